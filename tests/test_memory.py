"""A run's memory need, estimated on the meta device before anything is allocated, and refused when too large."""
import resource
import sys

import pytest
import torch
import torch.nn.functional as F

from mnistlab.cli.main import main
from mnistlab.config import RunConfig
from mnistlab.data.mnist import normalize
from mnistlab.errors import ConfigError
from mnistlab.models.registry import build_model, config_of
from mnistlab.runs import memory
from mnistlab.runs.job import Job
from mnistlab.training.device import memory_format
from mnistlab.training.optim import make_adam

GIB = 2**30


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


def test_estimate_of_a_huge_model_allocates_nothing():
    before = peak_rss()
    need = memory.estimate_bytes(config_of(model="mlp", mlp_hidden=65536))
    params = 784 * 65536 + 65536 * 65536 + 65536 * 10  # weights alone, not counting biases
    assert need > params * 4 * 4  # weights, gradients and Adam's two moments in float32: ~65 GiB
    assert peak_rss() - before < 256 * 2**20  # a real model would have taken 17 GiB just for its weights


def measured_training_bytes(cfg: RunConfig, data) -> int:
    """What one training step of `cfg` really holds: weights, gradients, Adam's state, the best weights kept
    aside, and the tensors autograd saves for backward at the batch size (distinct storages only)."""
    model = build_model(cfg)
    fmt = memory_format(model, torch.device("cpu"))
    model.to(memory_format=fmt)  # type: ignore[call-overload]  # torch's stubs lack the keyword
    saved = {}

    def keep(t):
        saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    x = normalize(data.test_raw[:cfg.batch_size]).contiguous(memory_format=fmt)
    optimizer = make_adam(model.parameters(), cfg.lr)
    with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
        loss = F.cross_entropy(model(x), data.test_y[:cfg.batch_size])
    loss.backward()
    optimizer.step()
    tensors = [*model.parameters(), *(p.grad for p in model.parameters()), *optimizer.exp_avg,
               *optimizer.exp_avg_sq, *model.state_dict().values()]
    return sum(t.numel() * t.element_size() for t in tensors) + sum(saved.values())


@pytest.mark.parametrize("model", ["cnn", "mlp"])
def test_estimate_is_generous_but_near_what_training_holds(model, device_data):
    cfg = RunConfig(model=model)
    measured = measured_training_bytes(cfg, device_data)
    estimate = memory.training_bytes(cfg)
    assert measured <= estimate <= 5 * measured, (measured, estimate)


def test_refused_when_memory_is_short():
    with pytest.raises(ConfigError, match=r"^--mlp-hidden 65536: a run needs ~\d+\.\d GiB, this machine has "
                                          r"~1\.0 GiB available; use smaller widths or --batch-size$"):
        memory.check_fits([Job.of(config_of(model="cnn")), Job.of(config_of(model="mlp", mlp_hidden=65536))],
                          available=GIB)


def test_the_notebook_fits_where_a_gibibyte_is_free():
    memory.check_fits([Job.of(RunConfig(model="mlp")), Job.of(RunConfig(model="cnn"))], available=GIB)


def test_nothing_refused_when_memory_cannot_be_read(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda device=None: None)
    memory.check_fits([Job.of(config_of(model="mlp", mlp_hidden=65536))])


def test_available_memory_from_proc_meminfo_without_psutil(monkeypatch):
    monkeypatch.setitem(sys.modules, "psutil", None)  # as where psutil is not installed: import fails
    monkeypatch.setattr(memory, "_cgroup_room", lambda: None)
    monkeypatch.setattr(memory, "_meminfo_available", lambda: 3 * GIB)
    assert memory.available_bytes() == 3 * GIB
    monkeypatch.setattr(memory, "_meminfo_available", lambda: None)
    assert memory.available_bytes() is None


def test_a_container_limit_counts(monkeypatch):
    monkeypatch.setitem(sys.modules, "psutil", None)
    monkeypatch.setattr(memory, "_meminfo_available", lambda: 64 * GIB)
    monkeypatch.setattr(memory, "_cgroup_room", lambda: 2 * GIB)
    assert memory.available_bytes() == 2 * GIB


def test_meminfo_and_cgroup_files_are_parsed(tmp_path, monkeypatch):
    files = {"/proc/meminfo": tmp_path / "meminfo", "/sys/fs/cgroup/memory.max": tmp_path / "max",
             "/sys/fs/cgroup/memory.current": tmp_path / "current"}
    monkeypatch.setattr(memory, "Path", lambda name: files[name])
    files["/proc/meminfo"].write_text("MemTotal:       16384000 kB\nMemFree:   100 kB\nMemAvailable:    2048 kB\n")
    assert memory._meminfo_available() == 2048 * 1024
    files["/proc/meminfo"].write_text("MemTotal:       16384000 kB\n")  # a kernel without MemAvailable
    assert memory._meminfo_available() is None
    files["/proc/meminfo"].write_text("MemAvailable: lots\n")
    assert memory._meminfo_available() is None
    files["/sys/fs/cgroup/memory.max"].write_text("max\n")
    assert memory._cgroup_room() is None  # no limit
    files["/sys/fs/cgroup/memory.max"].write_text(f"{4 * GIB}\n")
    files["/sys/fs/cgroup/memory.current"].write_text(f"{GIB}\n")
    assert memory._cgroup_room() == 3 * GIB
    files["/sys/fs/cgroup/memory.current"].unlink()  # cgroup v1: no such file
    assert memory._cgroup_room() is None


def test_cli_refuses_before_loading_data(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(memory, "available_bytes", lambda device=None: GIB // 2)
    monkeypatch.setattr("mnistlab.data.mnist.load_mnist", lambda *a, **k: pytest.fail("data loaded"))
    assert main(["run", "--models", "mlp", "--mlp-hidden", "65536", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mnistlab: error: --mlp-hidden 65536: a run needs") and len(err.splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_sizing_a_small_model_runs_it_on_the_cpu_without_touching_the_callers_random_stream():
    import torch

    memory._shapes.clear()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    params, per_sample = memory.model_numbers(config_of(model="cnn", cnn_c1=17))
    assert torch.equal(torch.rand(3), expected)
    assert params == 1 * 17 * 9 + 17 + 17 * 32 * 9 + 32 + 49 * 32 * 128 + 128 + 128 * 10 + 10 and per_sample > 0
