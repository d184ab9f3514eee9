"""The fused kernel's build cache: private folders, no foreign library loaded, failed builds remembered,
builds without OpenMP, CPU ids that tell arm64 CPUs apart, explicit dtypes."""
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import kernel_probe
import mnistlab
from mnistlab.kernels import build, fused

SRC = str(Path(mnistlab.__file__).parents[1])
TESTS = str(Path(__file__).parent)
CL = torch.channels_last
needs_kernel = pytest.mark.skipif(fused.status() != "fused", reason=f"fused kernel not built here: {fused.status()}")
needs_posix_root = pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="chown needs root")

# Prints the status, the pool_relu libraries this process mapped, and whether pool_relu (values and
# gradients, awkward inputs) and the fused first layer agree with torch's ops.
PROBE = """
import json, sys; sys.path.insert(0, {tests!r})
import torch
from mnistlab.kernels import fused
from test_fused import awkward, forward_backward, native, conv_case, conv_forward_backward
x = awkward((3, 5, 6, 8))
y_ref, g_ref = forward_backward(native, x)
y, g = forward_backward(fused.pool_relu, x)
same = torch.equal(y.nan_to_num(), y_ref.nan_to_num()) and torch.equal(y.isnan(), y_ref.isnan())
same = same and torch.equal(g, g_ref)
xc, conv = conv_case()
got = conv_forward_backward(lambda t: fused.conv_pool_relu(t, conv), xc, conv)
ref = conv_forward_backward(lambda t: native(conv(t)), xc, conv)
close = all(((a - b).norm() / b.norm()).item() < 1e-5 for a, b in zip(got, ref, strict=True))  # another summation order
maps = sorted({{ln.split()[-1] for ln in open("/proc/self/maps") if "pool_relu" in ln}})
print(json.dumps([fused.status(), same and close, maps]))
"""


def probe(cache, umask=None, **env):
    """Status, agreement and mapped libraries of a new process whose kernel cache is `cache`."""
    out = kernel_probe.run(PROBE.format(tests=TESTS), umask, {"PYTHONPATH": SRC, "XDG_CACHE_HOME": str(cache), **env},
                           Path(cache).parent / f".probe-{Path(cache).name}.out")
    return json.loads(out.strip().splitlines()[-1])


def kernels(cache):
    return cache / "mnistlab" / "kernels"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A cache where a process built the kernel and found it agrees with torch: one build (~3 s) for the module."""
    cache = tmp_path_factory.mktemp("built")
    status, agrees, _ = probe(cache)
    assert status == "fused" and agrees
    return cache


def built_once(cache, built):
    """`cache` as a process that built the kernel there leaves it (a copy of `built`, modes kept): its library."""
    shutil.copytree(built / "mnistlab", cache / "mnistlab", symlinks=True)
    (lib,) = kernels(cache).glob("pool_relu-*.so")
    return lib


def nobody():
    return pwd.getpwnam("nobody").pw_uid


@needs_kernel
@needs_posix_root
def test_a_library_owned_by_another_user_is_not_loaded_but_rebuilt_privately(tmp_path, built):
    planted = built_once(tmp_path, built)
    os.chown(planted, nobody(), -1)
    status, agrees, maps = probe(tmp_path)
    assert status == f"fused (rebuilt privately: {planted} is owned by uid {nobody()})"
    assert agrees and str(planted) not in maps and len(maps) == 1


@needs_kernel
def test_a_group_writable_kernel_folder_is_not_trusted(tmp_path, built):
    planted = built_once(tmp_path, built)
    kernels(tmp_path).chmod(0o775)
    status, agrees, maps = probe(tmp_path)
    assert status.startswith("fused (rebuilt privately: ") and "writable by group or others" in status
    assert str(kernels(tmp_path)) in status and agrees and str(planted) not in maps and len(maps) == 1


@needs_kernel
def test_a_symlinked_library_is_not_loaded(tmp_path, built):
    planted = built_once(tmp_path, built)
    elsewhere = tmp_path / "elsewhere.so"
    planted.rename(elsewhere)
    planted.symlink_to(elsewhere)
    status, agrees, maps = probe(tmp_path)
    assert status == f"fused (rebuilt privately: {planted} is not a regular file)"
    assert agrees and str(planted) not in maps and str(elsewhere) not in maps


@needs_kernel
def test_a_library_without_the_kernels_symbols_is_a_recorded_fallback(tmp_path, built):
    planted = built_once(tmp_path, built)
    (tmp_path / "other.c").write_text("int unrelated(void) { return 0; }\n")
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(planted), str(tmp_path / "other.c")], check=True)
    planted.chmod(0o700)
    status, agrees, _ = probe(tmp_path)
    assert status.startswith("unavailable (") and "pool_relu_forward" in status and str(planted) in status
    assert agrees  # torch's ops ran


@needs_kernel
@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_kernel_folder_and_library_are_private_whatever_the_umask(tmp_path, umask):
    status, agrees, _ = probe(tmp_path, umask=umask)
    assert status == "fused" and agrees
    (lib,) = kernels(tmp_path).glob("pool_relu-*.so")
    assert stat.S_IMODE(kernels(tmp_path).stat().st_mode) == 0o700
    assert stat.S_IMODE(lib.stat().st_mode) in (0o700, 0o600)


@needs_kernel
def test_a_cached_library_is_used_without_a_compiler(tmp_path, built):
    built_once(tmp_path, built)
    status, agrees, _ = probe(tmp_path, PATH=str(tmp_path / "empty"), CC="")
    assert status == "fused" and agrees


def test_a_failed_build_is_remembered_and_not_retried(tmp_path):
    counter = tmp_path / "calls"
    cc = tmp_path / "cc"
    cc.write_text(f"#!/bin/sh\necho x >> {counter}\necho 'cc: internal error' >&2\nexit 1\n")
    cc.chmod(0o755)
    first, agrees, _ = probe(tmp_path / "cache", CC=str(cc))
    assert first.startswith("unavailable (") and "internal error" in first and agrees
    calls = len(counter.read_text().splitlines())
    assert calls >= 1
    second, agrees, _ = probe(tmp_path / "cache", CC=str(cc))
    assert len(counter.read_text().splitlines()) == calls  # no new compiler call
    assert second.startswith("unavailable (") and "internal error" in second and agrees
    if hasattr(os, "getuid") and os.getuid() == 0:  # a marker someone else wrote is ignored
        (marker,) = kernels(tmp_path / "cache").glob("pool_relu-*.failed")
        os.chown(marker, nobody(), -1)
        probe(tmp_path / "cache", CC=str(cc))
        assert len(counter.read_text().splitlines()) > calls


@needs_kernel
def test_a_compiler_without_openmp_still_builds_the_kernel(tmp_path):
    cc = tmp_path / "cc"
    cc.write_text('#!/bin/sh\nfor a in "$@"; do\n  if [ "$a" = -fopenmp ]; then\n'
                  "    echo \"clang: error: unsupported option '-fopenmp'\" >&2; exit 1\n  fi\ndone\n"
                  'exec gcc "$@"\n')
    cc.chmod(0o755)
    status, agrees, _ = probe(tmp_path / "cache", CC=str(cc))
    assert status == "fused, no OpenMP" and agrees  # pool_relu bit for bit, conv1 within rounding
    # the next process loads it from the cache, compiler or not
    status, agrees, _ = probe(tmp_path / "cache", PATH=str(tmp_path / "empty"), CC="")
    assert status == "fused, no OpenMP" and agrees


CORTEX_A72 = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x0
CPU part\t: 0xd08
CPU revision\t: 3
"""
NEOVERSE_N1 = CORTEX_A72.replace("0xd08", "0xd0c").replace("revision\t: 3", "revision\t: 1")


def test_arm64_cpus_get_different_ids():
    a72, n1 = build.cpu_id_from(CORTEX_A72, "aarch64"), build.cpu_id_from(NEOVERSE_N1, "aarch64")
    assert a72 != n1 and "CPU part\t: 0xd08" in a72 and "aarch64" in a72
    # more cores or another BogoMIPS reading is the same CPU
    assert build.cpu_id_from(CORTEX_A72 + "\n" + CORTEX_A72.replace("108.00", "50.00"), "aarch64") == a72
    x86 = "processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu sse2 avx2\n"
    assert build.cpu_id_from(x86, "x86_64") != build.cpu_id_from(x86.replace("avx2", "avx512f"), "x86_64")


@needs_kernel
def test_kernels_ignore_the_default_dtype():
    sys.path.insert(0, TESTS)
    from test_fused import awkward, conv_case, conv_forward_backward, forward_backward

    x = awkward((3, 5, 6, 8))
    xc, conv = conv_case()
    saved = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:  # torch's ops under the same default: the random output gradients are drawn alike
        y, g = forward_backward(fused.pool_relu, x)
        got = conv_forward_backward(lambda t: fused.conv_pool_relu(t, conv), xc, conv)
        y_ref, g_ref = forward_backward(lambda t: F.relu(F.max_pool2d(t, 2, 2)), x)
        ref = conv_forward_backward(lambda t: F.relu(F.max_pool2d(conv(t), 2, 2)), xc, conv)
    finally:
        torch.set_default_dtype(saved)
    assert y.dtype == g.dtype == torch.float32
    assert torch.equal(y.nan_to_num(), y_ref.nan_to_num()) and torch.equal(g, g_ref)
    assert all(a.dtype == torch.float32 and (a - b).norm() / b.norm() < 1e-5 for a, b in zip(got, ref, strict=True))


def test_describe_says_what_this_machine_uses():
    info = fused.describe()
    assert info["status"] == fused.status()
    assert info["kernel_dir"] == str(build.kernel_dir())
    assert set(info) >= {"library", "compiler", "openmp", "cpu_id"}
    assert len(info["cpu_id"]) == 16 and int(info["cpu_id"], 16) >= 0
    if info["status"] == "fused":
        assert info["openmp"] is True and Path(info["library"]).is_file()


@needs_kernel
def test_a_private_rebuild_leaves_no_folder_even_when_the_process_skips_exit_handlers(tmp_path, built):
    """The CLI leaves with os._exit (no atexit): a privately rebuilt kernel's folder is removed once loaded."""
    planted = built_once(tmp_path, built)
    kernels(tmp_path).chmod(0o775)  # not trusted: the kernel is rebuilt into a fresh private folder
    temp = tmp_path / "tmp"
    temp.mkdir()
    code = ("import os\nfrom mnistlab.kernels import fused\nprint(fused.status(), flush=True)\n"
            "os._exit(0)\n")
    env = {**os.environ, "PYTHONPATH": SRC, "XDG_CACHE_HOME": str(tmp_path), "TMPDIR": str(temp)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and out.stdout.startswith("fused (rebuilt privately: "), out.stderr[-2000:]
    assert list(temp.iterdir()) == [] and planted.is_file()
