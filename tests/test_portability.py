"""mnistlab where POSIX-only modules are missing (Windows has no fcntl): every command starts, and a sweep
folder in use is still refused."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import store_rows

# The CLI in a Python whose `import fcntl` fails, as on Windows.
WITHOUT_FCNTL = ("import sys; sys.modules['fcntl'] = None; from mnistlab.cli.main import main; "
                 "sys.exit(main(sys.argv[1:]))")
# Holds a sweep folder's lock (taken the way `mnistlab sweep` takes it) until its stdin closes.
HOLDER = """import sys
sys.modules['fcntl'] = None
from mnistlab.sweeps.runner import exclusive
with exclusive(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.read()
"""
GRID = ["--budgets", "10", "--seeds", "0", "--epochs", "1", "--models", "mlp", "--quiet", "--no-summary"]


def without_fcntl(*args):
    return subprocess.run([sys.executable, "-c", WITHOUT_FCNTL, *args], capture_output=True, text=True, timeout=600)


COMMANDS = [[], ["data"], ["run"], ["sweep"], ["summarize"], ["explain"], ["report"], ["results"], ["models"],
            ["methods"], ["doctor"]]
# Every command's --help in one Python without fcntl (start-up paid once; a module that needs fcntl fails on its
# first import, whichever command makes it): its status, the start of its output, and whether it said Traceback.
EVERY_HELP = """import contextlib, io, json, sys
sys.modules['fcntl'] = None
from mnistlab.cli.main import main
answers = []
for args in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main([*args, '--help'])
        except SystemExit as e:
            status = e.code or 0
    answers.append([args, status, out.getvalue()[:40], err.getvalue()])
print(json.dumps(answers))
"""


def test_every_command_starts_without_fcntl():
    proc = subprocess.run([sys.executable, "-c", EVERY_HELP, json.dumps(COMMANDS)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    answers = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [a[0] for a in answers] == COMMANDS
    for args, status, out, err in answers:
        assert status == 0 and out.startswith("usage: mnistlab") and "Traceback" not in err, (args, status, err)


def test_a_busy_folder_is_refused_without_fcntl_and_free_once_released(tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n", holder.stderr.read()
        refused = without_fcntl("sweep", *GRID, "--out", str(out))
        assert refused.returncode == 2, refused.stderr
        assert "another sweep is writing to" in refused.stderr and "Traceback" not in refused.stderr
        assert not (out / "store.sqlite").exists()
    finally:
        holder.communicate("", timeout=60)
    assert holder.returncode == 0
    done = without_fcntl("sweep", *GRID, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert [r["status"] for r, _ in store_rows(out).values()] == ["done"]


def test_summarize_and_report_of_a_sweep_without_fcntl(tmp_path):
    sweep = tmp_path / "sweep"
    shutil.copytree(Path(__file__).parent / "fixtures" / "legacy_sweep", sweep)
    both = (f"import sys; sys.modules['fcntl'] = None; from mnistlab.cli.main import main; "  # one process, two
            f"sys.exit(main(['summarize', {str(sweep)!r}, '--lang', 'en']) "  # commands: start-up paid once
            f"or main(['report', {str(sweep)!r}, '--lang', 'en', '--no-pdf']))")
    proc = subprocess.run([sys.executable, "-c", both], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert (sweep / "report" / "index.html").is_file() and (sweep / "summary.json").is_file()
