import shutil
import sqlite3
import subprocess
import unicodedata

import pytest

from helpers import copied
from mnistlab.cli.main import main

needs_tex = pytest.mark.skipif(not (shutil.which("pdflatex") and shutil.which("pdftotext")),
                               reason="TeX/poppler not installed (.ci/run installs them)")
needs_chromium = pytest.mark.skipif(not shutil.which("chromium"), reason="chromium not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def run_dir(tiny_run, tmp_path_factory):
    return copied(tiny_run, tmp_path_factory.mktemp("rep") / "run")  # reports are written into the folder


@pytest.fixture(scope="module")
def sweep_dir(tiny_sweep, tmp_path_factory):
    return copied(tiny_sweep, tmp_path_factory.mktemp("rep") / "sweep")


def pdf_text(pdf):
    pages = int(next(line.split()[-1] for line in subprocess.run(["pdfinfo", str(pdf)], capture_output=True,
                                                                  text=True).stdout.splitlines()
                     if line.startswith("Pages:")))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
    return pages, unicodedata.normalize("NFC", text)  # OT1 accents come out decomposed


@needs_tex
def test_run_report_compiles_with_the_key_numbers(run_dir):
    import json

    assert main(["report", str(run_dir)]) == 0
    pages, text = pdf_text(run_dir / "report" / "report.pdf")
    assert pages >= 3
    models = json.loads((run_dir / "results.json").read_text())["models"]
    for r in models.values():
        assert f"{r['test_acc']:.4f}".replace(".", ",") in text  # pt: decimal comma
    assert "Conclusões" in text and "Figura 3: Matriz de confusão" in text
    assert (run_dir / "report" / "figures" / "cm_cnn.pdf").is_file()
    assert r"\input{tables/results.tex}" in (run_dir / "report" / "report.tex").read_text()
    assert "MLP × CNN no MNIST com poucos dados" in text
    assert "parâmetro" in text and "semi method" not in text  # the config as a table, a supervised run's only


def test_a_run_report_speaks_of_the_models_it_holds_and_how_each_one_stopped(tiny_run):
    from mnistlab.report.build import run_content
    from mnistlab.runs.folder import load_run

    models = load_run(tiny_run)["models"]
    content = run_content(tiny_run, tiny_run / "unused", "en")
    assert content["heading"] == "MLP vs CNN on MNIST with little data"
    words = content["findings"][-1]
    for name, r in models.items():
        label = "MLP" if name == "mlp" else "CNN"
        if r["epochs_run"] < r["config"]["epochs"]:
            assert f"early stopping ended the {label} at epoch {r['epochs_run']} of {r['config']['epochs']}" in words
        else:
            assert f"the {label} trained all {r['epochs_run']} epochs without early stopping ending it" in words


@needs_tex
def test_sweep_report_in_english_has_findings_and_ci(sweep_dir):
    import json

    assert main(["report", str(sweep_dir), "--lang", "en"]) == 0
    pages, text = pdf_text(sweep_dir / "report" / "report.pdf")
    assert pages >= 2 and "Findings" in text and "95% CI" in text
    summary = json.loads((sweep_dir / "report" / "summary.json").read_text())
    first = summary["aggregates"][0]
    assert f"{100 * first['test_acc']['mean']:.2f}" in text
    assert "samples per class" in text and "Test accuracy vs. data budget" in text
    assert "Models compared" in text and "Overfitting" in text  # the answers as tables, as in results.md
    html = (sweep_dir / "report" / "index.html").read_text()
    assert "<h3>Models compared</h3>" in html and "Differences paired by seed" in html


@needs_chromium
def test_html_renders_in_headless_chromium(sweep_dir, tmp_path):
    from matplotlib.image import imread

    assert main(["report", str(sweep_dir), "--lang", "en", "--no-pdf"]) == 0
    page = sweep_dir / "report" / "index.html"
    html = page.read_text()
    assert html.count("data:image/png;base64,") >= 4 and "<table>" in html and "http" not in html.split("<body>")[1]
    shot = tmp_path / "shot.png"
    proc = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                           "--no-first-run", "--disable-background-networking", "--disable-component-update",
                           "--disable-sync",
                           f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
                           "--window-size=1200,1600", f"--screenshot={shot}", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and shot.is_file()
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console
    img = imread(shot)
    assert img[..., :3].std() > 0.05  # not blank: text, table and figures drew


def test_partial_sweep_refused_then_marked(sweep_dir, tmp_path, capsys):
    partial = tmp_path / "partial"
    shutil.copytree(sweep_dir, partial, ignore=shutil.ignore_patterns("report"))
    conn = sqlite3.connect(partial / "store.sqlite")
    conn.execute("UPDATE runs SET status = 'failed' WHERE rowid = (SELECT MIN(rowid) FROM runs)")
    conn.commit()
    conn.close()
    assert main(["report", str(partial), "--no-pdf"]) == 2
    assert "not complete (1 failed)" in capsys.readouterr().err
    assert not (partial / "report" / "report.tex").exists()
    assert main(["report", str(partial), "--no-pdf", "--allow-partial"]) == 0
    assert "RESULTADOS PARCIAIS" in (partial / "report" / "report.tex").read_text()


@pytest.mark.parametrize("args,needle", [
    (["{tmp}/missing"], "no such folder"),
    (["{tmp}"], "neither a run folder"),
    (["{run}", "--lang", "fr"], "invalid choice: 'fr'"),
])
def test_report_bad_input(args, needle, run_dir, tmp_path, capsys):
    args = [a.format(tmp=tmp_path, run=run_dir) for a in args]
    assert main(["report", *args, "--no-pdf"]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


@needs_tex
def test_a_latex_failure_is_one_line_with_the_logs_path(tmp_path):
    from mnistlab.errors import ReportError
    from mnistlab.report.build import compile_pdf

    tex = tmp_path / "report.tex"
    tex.write_text("\\documentclass{article}\\begin{document}\\undefinedmacro\\end{document}\n")
    with pytest.raises(ReportError) as caught:
        compile_pdf(tex)
    message = str(caught.value)
    assert "\n" not in message and "Undefined control sequence" in message and str(tmp_path / "report.log") in message
