"""Safe names and the one escaper per output language: hostile strings from a folder go through every writer
(aggregate.tex, report.tex + PDF, index.html, results.md) as plain text, and LaTeX still compiles."""
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from mnistlab.cli.main import main
from mnistlab.names import code_span, html_text, is_safe_name, markdown, name_problem, tex

FIXTURES = Path(__file__).parent / "fixtures"
needs_tex = pytest.mark.skipif(not (shutil.which("pdflatex") and shutil.which("pdftotext")),
                               reason="TeX/poppler not installed (.ci/run installs them)")
HOSTILE = r"\input{/etc/hostname}\relax $\foo{$ a_b 50% #1 ~^ & <script>alert(1)</script> | `x` [l](u) *b*"
SECRET = "SECRETWORD"


def test_safe_names_are_one_alphabet_without_a_leading_dot():
    for good in ("noisy0.1", "longtail-weighted", "base", "recipe", "spc_10", "a" * 64):
        assert is_safe_name(good) and name_problem(good, "variant") is None
    for bad in ("", ".hidden", "..", "../x", "a/b", "a\\b", "a\x00b", "a" * 65, "tab\tx", "é", 12, None, ["a"]):
        assert not is_safe_name(bad)
    assert "variant '../x' is not a safe name" in name_problem("../x", "variant")


def test_each_escaper_leaves_no_markup_of_its_language():
    assert tex(HOSTILE).count("\\input") == 0 and "\\textbackslash{}input\\{/etc/hostname\\}" in tex(HOSTILE)
    assert "$" not in tex(HOSTILE).replace(r"\$", "") and tex("a\x00b\nc") == "a?b\nc"
    assert tex("– ✓") == "-- ?"  # what the smallest TeX install cannot typeset is never passed through
    assert "<script>" not in html_text(HOSTILE) and html_text('"') == "&quot;"
    md = markdown(HOSTILE + "\nnext")
    assert "<script>" not in md and "|" not in md.replace(r"\|", "") and "\n" not in md
    assert code_span("mnistlab sweep --out x") == "`mnistlab sweep --out x`" and code_span("a`b") == "a\\`b"


def _sweep_with_label(tmp_path, label: str) -> Path:
    folder = tmp_path / "sweep"
    shutil.copytree(FIXTURES / "legacy_sweep", folder)
    conn = sqlite3.connect(folder / "store.sqlite", isolation_level=None)
    for key, result in conn.execute("SELECT key, result FROM runs WHERE model = 'mlp'").fetchall():
        conn.execute("UPDATE runs SET result = ? WHERE key = ?", (json.dumps({**json.loads(result), "label": label}),
                                                                   key))
    conn.close()
    return folder


def _run_with_label(tmp_path, label: str) -> Path:
    folder = tmp_path / "run"
    shutil.copytree(FIXTURES / "legacy_run", folder)
    payload = json.loads((folder / "results.json").read_text())
    payload["models"]["mlp"]["label"] = label
    (folder / "results.json").write_text(json.dumps(payload))
    return folder


def _compile(tex_file: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex_file.name],
                          cwd=tex_file.parent, capture_output=True, text=True, timeout=120)


@needs_tex
def test_a_hostile_label_in_a_store_is_text_in_the_latex_table(tmp_path):
    folder = _sweep_with_label(tmp_path, HOSTILE)
    assert main(["summarize", str(folder), "--lang", "en"]) == 0
    table = (folder / "tables" / "aggregate.tex").read_text()
    assert r"\input{" not in table and r"\relax" not in table
    doc = folder / "tables" / "doc.tex"
    doc.write_text("\\documentclass{article}\\usepackage{booktabs}\\begin{document}\\input{aggregate.tex}"
                   "\\end{document}\n")
    made = _compile(doc)
    assert made.returncode == 0, made.stdout[-2000:]
    text = subprocess.run(["pdftotext", str(doc.with_suffix(".pdf")), "-"], capture_output=True, text=True).stdout
    assert "input{/etc/hostname}" in text  # shown as the text it is


@needs_tex
def test_a_hostile_label_and_figure_name_in_a_run_never_become_latex(tmp_path):
    folder = _run_with_label(tmp_path, HOSTILE)
    (folder / "secret.tex").write_text(SECRET)
    (folder / "report").mkdir()
    (folder / "report" / "secret.tex").write_text(SECRET)
    figures = folder / "figures"
    figures.mkdir()
    crafted = r"tsne_x.pdf}\input{secret}\iffalse"
    for ext in ("pdf", "png"):
        (figures / f"{crafted}.{ext}").write_bytes(b"not really a figure")
    assert main(["report", str(folder), "--lang", "en"]) == 0
    report = (folder / "report" / "report.tex").read_text()
    assert r"\input{secret}" not in report and r"\input{/etc" not in report
    assert report.count(r"\input{") == 1  # the results table, nothing else
    pdf_text = subprocess.run(["pdftotext", str(folder / "report" / "report.pdf"), "-"], capture_output=True,
                              text=True).stdout
    assert SECRET not in pdf_text and "input{/etc/hostname}" in pdf_text.replace("\n", " ")
    page = (folder / "report" / "index.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_a_hostile_label_in_results_md_is_plain_markdown(tmp_path):
    folder = _sweep_with_label(tmp_path, "A|B <script>x</script>")
    out = tmp_path / "results.md"
    assert main(["results", "--sweep", f"main={folder}", "--out", str(out)]) == 0
    text = out.read_text()
    assert "<script>" not in text and r"A\|B \<script\>" in text
    rows = [line for line in text.splitlines() if "A\\|B" in line]
    cells = lambda line: line.count("|") - line.count("\\|") - 1  # noqa: E731 - a table row's columns
    assert [cells(line) for line in rows if line.startswith("| base | A")] == [9, 9, 7, 7]  # aggregate, early stop
    assert [cells(line) for line in rows if line.startswith("| base | 20 |")] == [7]  # the models compared
