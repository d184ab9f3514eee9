"""benchmarks/: every script imports what it names from mnistlab and answers --help; gpu_check runs tiny on the CPU."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("*.py"))

# Runs each script as `python benchmarks/<name> --help` would, in one process (torch is imported once).
HELP_ALL = """
import contextlib, io, json, runpy, sys
sys.path.insert(0, sys.argv[1])
answers = {}
for name in sys.argv[2:]:
    out, code = io.StringIO(), None
    sys.argv = [name, "--help"]
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(name, run_name="__main__")
    except SystemExit as e:
        code = e.code
    except Exception as e:
        code = f"{type(e).__name__}: {e}"
    answers[name] = {"code": code, "stdout": out.getvalue()}
print(json.dumps(answers))
"""


@pytest.fixture(scope="module")
def help_answers():
    proc = subprocess.run([sys.executable, "-c", HELP_ALL, str(BENCHMARKS), *SCRIPTS], capture_output=True,
                          text=True, cwd=BENCHMARKS, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_benchmarks_are_found():
    assert {"gpu_check.py", "bench_step.py", "bench_run.py", "notebook_reference.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_answers_help(script, help_answers):
    answer = help_answers[script]
    assert answer["code"] == 0, answer["code"]  # an import error or a missing parser shows here
    assert answer["stdout"].startswith("usage:") and "--help" in answer["stdout"]


def test_gpu_check_dry_run_on_cpu(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))  # the script puts src/ first; undone after the test
    spec = importlib.util.spec_from_file_location("gpu_check", BENCHMARKS / "gpu_check.py")
    assert spec and spec.loader
    gpu_check = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "gpu_check", gpu_check)  # its dataclass looks its module up there
    spec.loader.exec_module(gpu_check)
    out = tmp_path / "check.json"
    assert gpu_check.main(["--dry-run", "--device", "cpu", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["dry_run"] and report["environment"]["device"] == "cpu"
    assert [(r["model"], r["seed"]) for r in report["correctness"]] == [("mlp", 0), ("mlp", 1), ("cnn", 0), ("cnn", 1)]
    assert all(r["ok"] and r["epochs"] == [2, 2] for r in report["correctness"])  # stacked == solo
    assert [t["precision"] for t in report["target"]] == ["fp32"]
    assert all(t[m]["seconds"] > 0 and t[m]["epochs_mean"] == 2 for t in report["target"] for m in ("mlp", "cnn"))
    assert {(r["model"], r["precision"], r["K"]) for r in report["throughput"]} == {
        (m, "fp32", 2) for m in ("mlp", "cnn")}
    assert all(r["gflops"] > 0 for r in report["throughput"])
