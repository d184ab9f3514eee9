"""`mnistlab doctor`: what this machine will use, found by looking only (nothing fetched, nothing written)."""
import re

import torch

from mnistlab.cli.main import main
from mnistlab.kernels import fused
from mnistlab.version import code_identity


def doctor(capsys) -> dict[str, str]:
    assert main(["doctor"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in out.splitlines())


def test_doctor_says_what_this_machine_uses(capsys):
    rows = doctor(capsys)
    assert rows["mnistlab"] == code_identity()
    assert rows["torch"] == torch.__version__
    assert rows["threads"].startswith(f"{torch.get_num_threads()} torch threads")
    assert rows["device"].startswith("cuda" if torch.cuda.is_available() else "cpu")
    assert rows["kernels"].split(" ")[0] in {"fused", "fused,", "off", "unavailable", "not"}
    assert "GiB available" in rows["memory"] or rows["memory"] == "unknown"
    assert {"data cache", "MNIST", "Fashion-MNIST", "report: TeX", "report: Chromium"} <= set(rows)


def test_doctor_fetches_nothing_into_an_empty_cache(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MNISTLAB_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr("subprocess.run", lambda *a, **k: (_ for _ in ()).throw(AssertionError("ran a program")))
    monkeypatch.setattr("mnistlab.data.mnist.fetch_from_wheel", lambda *a, **k: (_ for _ in ()).throw(
        AssertionError("fetched")))
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "train-labels-idx1-ubyte").write_bytes(b"\0\0\x08\x01damaged")
    rows = doctor(capsys)
    assert rows["data cache"].startswith(str(tmp_path / "cache"))
    assert rows["MNIST"].startswith("0 of 4 files verified") and "fails its checksum" in rows["MNIST"]
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["train-labels-idx1-ubyte"]


def test_doctor_without_tex_chromium_or_kernel(capsys, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    monkeypatch.setattr(fused, "_library", lambda: None)
    monkeypatch.setattr(fused, "_why_not", "unavailable (no C compiler (cc/gcc) on PATH)")
    rows = doctor(capsys)
    assert rows["report: TeX"] == "none (latexmk / pdflatex not on PATH); report.tex is not compiled"
    assert rows["report: Chromium"].startswith("none (chromium")
    assert rows["kernels"] == "unavailable (no C compiler (cc/gcc) on PATH)"
    assert "library" not in rows and "compiler" not in rows  # nothing loaded, nothing found: no row claims one
