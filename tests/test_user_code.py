"""User code that misbehaves is one line: hypothesis draws how it fails (an exception or an exit, sys.exit(0)
included), where (at import, in its constructor, in its first forward pass, in training) and how it is named
(file.py:Net or module:Net); each run is refused before anything is created, with exit 2 and no traceback."""
from __future__ import annotations

import itertools
import os
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from io import StringIO
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from mnistlab.cli.main import main

FAILURES = ["import sys; sys.exit(0)", "import sys; sys.exit(3)", "raise SystemExit('bye')",
            "raise RuntimeError('boom')", "raise KeyError('k')", "import no_such_module_for_mnistlab",
            "raise KeyboardInterrupt.__mro__[1]('base')"]  # a bare BaseException
PLACES = ["import", "init", "forward", "training"]  # training: past the first forward pass (a batch of 2)
COUNTER = itertools.count()


def source(failure: str, place: str) -> str:
    """A model file that fails in `place` with `failure`, and is a fine model otherwise."""
    pad = {"import": "", "init": "        ", "forward": "        ", "training": "            "}[place]
    body = "\n".join(pad + line for line in failure.split("; "))
    if place == "training":
        body, place = "        if x.shape[0] != 2:\n" + body, "forward"
    return ("import torch\n" + (body + "\n" if place == "import" else "")
            + "class Net(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            + "        self.fc = torch.nn.Linear(784, 10)\n" + (body + "\n" if place == "init" else "")
            + "    def forward(self, x):\n" + (body + "\n" if place == "forward" else "")
            + "        return self.fc(x.flatten(1))\n")


@settings(max_examples=14, derandomize=True, deadline=None)
@given(failure=st.sampled_from(FAILURES), place=st.sampled_from(PLACES), as_module=st.booleans())
@example(failure="import sys; sys.exit(3)", place="training", as_module=False)  # the run's own loop, whatever is drawn
def test_user_code_that_fails_is_one_line_and_nothing_is_created(failure, place, as_module):
    with tempfile.TemporaryDirectory() as tmp:
        name = f"user_net_{next(COUNTER)}"
        (Path(tmp) / f"{name}.py").write_text(source(failure, place))
        spec = f"{name}:Net" if as_module else f"{tmp}/{name}.py:Net"
        out, err = Path(tmp) / "out", StringIO()
        previous = os.getcwd()
        os.chdir(tmp)  # a module by name is found in the current folder
        try:
            with redirect_stderr(err), redirect_stdout(StringIO()):
                status = main(["run", "--models", spec, "--samples-per-class", "5", "--out", str(out), "--quiet"])
        finally:
            os.chdir(previous)
        text = err.getvalue()
        assert status == 2 and text.count("\n") == 1 and text.startswith("mnistlab: error: --models "), text
        assert "Traceback" not in text and not out.exists()
        assert sorted(p.name for p in Path(tmp).iterdir()) == sorted([f"{name}.py", *(
            ["__pycache__"] if (Path(tmp) / "__pycache__").exists() else [])])


FLAT = ("import torch\nclass Net(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.fc = torch.nn.Linear(784, {n})\n    def forward(self, x):\n"
        "        return self.fc(x.flatten(1))\n")


def test_a_shipped_file_is_read_where_the_drivers_path_is_missing_and_its_hash_still_checked(tmp_path, device_data):
    """What a Ray worker on another machine does: the driver's file is gone here, the bytes that came with the task
    are trained; bytes that are not the run's (the file edited after the run was set up) are refused, one line."""
    from mnistlab import usercode
    from mnistlab.config import RunConfig
    from mnistlab.errors import ConfigError
    from mnistlab.runs.job import Job
    from mnistlab.runs.pipeline import execute

    driver = tmp_path / "driver" / "ship_net.py"
    driver.parent.mkdir()
    driver.write_text(FLAT.format(n=10))
    name = f"{driver}:Net"
    job = Job.of(RunConfig(model=name, samples_per_class=5, epochs=1, early_stopping=False),
                 device_data.mnist.checksums)
    files = usercode.file_sources([job.config.model, "mlp", "some.module:Net"])
    assert list(files) == [str(driver)]  # a module is installed on each machine, not shipped
    driver.unlink()  # this "worker" has no such file

    def as_sent():  # the job as a worker rebuilds it from the task's data: its plan resolved there
        return Job(RunConfig.from_dict(job.config.to_dict()), job.key)

    try:
        usercode.ship(files, str(tmp_path / "shipped"))
        assert execute(as_sent(), device_data, {}).result.test_acc > 0.1
        usercode.ship({str(driver): FLAT.format(n=10).encode() + b"# edited\n"}, str(tmp_path / "shipped"))
        try:
            execute(as_sent(), device_data, {})
            raise AssertionError("a shipped file that is not the run's trained")
        except ConfigError as e:
            assert "changed since the run was set up" in str(e) and "\n" not in str(e)
    finally:
        usercode._shipped.pop(str(driver), None)
