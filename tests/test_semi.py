"""Semi-supervised runs: the unlabelled pool carries no labels, methods come from a registry (or a user's file),
keys, and a resumable semi study."""
from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import replace

import numpy as np
import pytest
import torch

from helpers import train_one
from mnistlab.config import RunConfig
from mnistlab.data import augment
from mnistlab.data.resident import ResidentData, split_indices, unlabelled_indices
from mnistlab.errors import ConfigError
from mnistlab.models.registry import build_model, config_of
from mnistlab.runs.job import Job
from mnistlab.training.semi.catalog import get_method, list_methods
from mnistlab.training.semi.loop import fit_semi
from mnistlab.training.solo import evaluate

SEMI = dict(samples_per_class=2, unlabeled=600, steps=12, early_stopping=False, batch_size=16, mlp_hidden=32)


def test_views_keep_shape_and_range_and_repeat_for_a_seed():
    x = torch.rand(64, 1, 28, 28)
    for view in (augment.weak_view, augment.strong_view):
        a, b = view(x, torch.Generator().manual_seed(3)), view(x, torch.Generator().manual_seed(3))
        assert a.shape == x.shape and torch.equal(a, b)
        assert float(a.min()) >= 0 and float(a.max()) <= 1
        assert not torch.equal(a, view(x, torch.Generator().manual_seed(4)))
    ones = torch.ones(8, 1, 28, 28)
    cut = augment.cutout(ones, 6, torch.Generator().manual_seed(0), fill=0.0)
    holes = (cut == 0).flatten(1).sum(1)
    assert bool((holes > 0).all()) and bool((holes <= 7 * 7).all())  # one square each, clipped at the edges


def test_pool_is_every_other_training_image_in_a_seeded_order():
    chosen = np.array([5, 1, 9])
    pool = unlabelled_indices(12, chosen, 9, seed=0)
    assert sorted(pool.tolist()) == [0, 2, 3, 4, 6, 7, 8, 10, 11]
    assert unlabelled_indices(12, chosen, 4, seed=0).tolist() == pool[:4].tolist()  # N: the first N of one order
    assert unlabelled_indices(12, chosen, 9, seed=1).tolist() != pool.tolist()


def test_labels_outside_the_labelled_draw_are_never_read(mnist, monkeypatch):
    """Garbling every label outside the drawn subset (after the draw) changes nothing: same weights, same test."""
    cfg = config_of(model="mlp", **SEMI)
    draw = split_indices(mnist.train_labels.numpy(), cfg)
    outside = np.setdiff1d(np.arange(len(mnist.train_labels)), np.concatenate(draw))
    garbled = mnist.train_labels.clone()
    garbled[torch.from_numpy(outside)] = (garbled[torch.from_numpy(outside)] + 1 + torch.arange(len(outside)) % 9) % 10
    assert int((garbled != mnist.train_labels).sum()) == len(outside)
    monkeypatch.setattr("mnistlab.data.resident.split_indices", lambda labels, c, n=10, chosen=None: draw)

    def trained(data):
        model = build_model(cfg)
        split = data.split(cfg)
        plan = Job.of(cfg).plan
        fit_semi(model, split, cfg, plan.method, plan.settings)
        return model, split, evaluate(model, data.test_x, data.test_y)

    cpu = torch.device("cpu")
    (a, split_a, test_a), (b, split_b, test_b) = (trained(ResidentData(mnist, cpu)),
                                                  trained(ResidentData(replace(mnist, train_labels=garbled), cpu)))
    assert torch.equal(split_a.unlabelled_x, split_b.unlabelled_x) and len(split_a.unlabelled_x) == 600
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert test_a[:2] == test_b[:2] and torch.equal(test_a[2], test_b[2])


def test_a_semi_run_learns_and_says_how(device_data):
    result, _ = train_one(config_of(model="cnn", **{**SEMI, "samples_per_class": 5, "steps": 150}), device_data)
    assert result.status == "done" and result.test_acc > 0.5 and result.method_label == "FixMatch"
    assert result.history["step"] == [100, 150] and len(result.history["mask_rate"]) == 2
    assert result.epochs_run == 150 and result.message == "ran 150 steps (EMA weights kept)"
    assert result.history["epoch"] == result.history["step"] == [100, 150]  # its x axis counts steps
    assert result.best_val_loss is None


@pytest.mark.parametrize("model", ["logreg", "lenet5"])
def test_every_registered_model_trains_semi_supervised(model, device_data):
    result, _ = train_one(config_of(model=model, **{**SEMI, "steps": 3}), device_data)
    assert result.status == "done" and result.history["step"] == [3] and result.model == model


def test_keys_hold_the_resolved_pool_and_only_non_defaults(mnist):
    sums = mnist.checksums
    semi = Job.of(RunConfig(samples_per_class=10, unlabeled="all", early_stopping=False), sums)
    assert semi.config.unlabeled == 60_000 - 100 and semi.config.semi_method == "fixmatch"
    same = Job.of(RunConfig(samples_per_class=10, unlabeled=59_900, early_stopping=False,
                            semi_options="threshold=0.95"), sums)
    assert same.key == semi.key  # "all" resolved, a default setting dropped
    other = Job.of(RunConfig(samples_per_class=10, unlabeled=59_900, early_stopping=False,
                             semi_options="threshold=0.9"), sums)
    assert other.key != semi.key and other.config.semi_options == "threshold=0.9"
    plain = Job.of(RunConfig(samples_per_class=10, early_stopping=False, steps=50), sums)
    assert plain.key == Job.of(RunConfig(samples_per_class=10, early_stopping=False), sums).key


def test_semi_config_rules():
    with pytest.raises(ConfigError, match="early_stopping=False"):
        Job.of(RunConfig(unlabeled=10), {})
    with pytest.raises(ConfigError, match="--unlabeled 59901"):
        Job.of(RunConfig(samples_per_class=10, unlabeled=59_901, early_stopping=False), {})
    assert list_methods()[:2] == ["fixmatch", "pseudolabel"]


USER_METHOD = '''
import torch.nn.functional as F

label = "unused"


def entropy_min(batch, settings):
    """The labelled loss plus entropy minimisation on the unlabelled images."""
    norm = batch.normalize
    logits = batch.model(norm(batch.labelled_x))
    p = F.softmax(batch.model(norm(batch.unlabelled_x)), dim=1)
    entropy = -(p * p.clamp_min(1e-8).log()).sum(1).mean()
    return F.cross_entropy(logits, batch.labelled_y) + settings["weight"] * entropy, {"labelled_logits": logits}


entropy_min.label = "Entropy min."
entropy_min.settings = {"weight": 0.5}


def labelled_only(batch, settings):
    """The labelled loss alone, and no stats: the run cannot know its train accuracy."""
    return F.cross_entropy(batch.model(batch.normalize(batch.labelled_x)), batch.labelled_y), {}
'''


def test_a_users_method_from_a_file(tmp_path, device_data):
    path = tmp_path / "mymethods.py"
    path.write_text(USER_METHOD)
    spec = f"{path}:entropy_min"
    method = get_method(spec)
    assert method.label == "Entropy min." and method.defaults["weight"] == 0.5
    cfg = config_of(model="mlp", semi_method=spec, semi_options="weight=0.1", **SEMI)
    result, _ = train_one(cfg, device_data)
    job = Job.of(cfg, device_data.mnist.checksums)
    assert job.config.semi_source == hashlib.sha256(path.read_bytes()).hexdigest()
    assert result.method_label == "Entropy min." and result.config["semi_options"] == "weight=0.1"
    path.write_text(USER_METHOD + "\n# edited\n")
    assert Job.of(cfg, device_data.mnist.checksums).key != job.key  # its code is part of the key
    with pytest.raises(ConfigError, match="--semi-method .*has no attribute 'nothing'"):
        get_method(f"{path}:nothing")
    assert all(0 <= a <= 1 for a in result.history["train_acc"])
    silent, _ = train_one(config_of(model="mlp", semi_method=f"{path}:labelled_only", **SEMI), device_data)
    assert silent.status == "done" and silent.history["train_acc"] == silent.history["mask_rate"] == [None]


def test_semi_study_resumes_without_retraining(tmp_path, monkeypatch):
    from mnistlab.cli.main import main
    from mnistlab.selection.embedding import embed

    # the study's mechanics, not the t-SNE map (minutes on the whole pool; tests/test_selection.py draws one)
    monkeypatch.setattr("mnistlab.selection.rules.central.tsne_map", lambda images, seed: embed(images, seed)[:, :2])

    out = tmp_path / "semi"
    argv = ["sweep", "--study", "semi", "--budgets", "1", "--seeds", "0", "--models", "mlp", "--mlp-hidden", "16",
            "--steps", "20", "--quiet", "--out", str(out)]
    assert main([*argv, "--tensorboard", str(tmp_path / "tb")]) == 0
    conn = sqlite3.connect(out / "store.sqlite")
    rows = {variant: (json.loads(config), status) for variant, config, status in
            conn.execute("SELECT variant, config, status FROM runs")}
    conn.close()
    assert set(rows) == {"plain", "recipe", "fixmatch", "pseudolabel", "fixmatch-central", "fixmatch-any"}
    assert all(status == "done" for _, status in rows.values())
    assert rows["fixmatch"][0]["unlabeled"] == 59_990 and rows["plain"][0]["unlabeled"] == 0
    assert rows["pseudolabel"][0]["semi_method"] == "pseudolabel" and rows["recipe"][0]["epochs"] == 150
    assert rows["fixmatch-central"][0]["select"] == "central-tsne" and rows["fixmatch-any"][0]["select"] == "random-any"
    assert "select" not in rows["fixmatch"][0] or rows["fixmatch"][0]["select"] == "random"
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert sorted(p.name for p in (tmp_path / "tb").iterdir()) == ["fixmatch", "fixmatch-any", "fixmatch-central",
                                                                   "plain", "pseudolabel", "recipe"]
    events = EventAccumulator(str(tmp_path / "tb" / "fixmatch" / "mlp_spc1_seed0"))
    events.Reload()
    assert [e.step for e in events.Scalars("mask_rate")] == [20]  # a semi run's history is counted in steps
    before = (out / "store.sqlite").read_bytes()
    assert main(argv + ["--no-summary"]) == 0
    assert (out / "store.sqlite").read_bytes() == before  # nothing retrained


def _fixmatch_step(model, joint: int, threshold: float = 0.0):
    from mnistlab.training.semi.registry import SemiBatch, resolve_settings

    spec = get_method("fixmatch")
    settings = resolve_settings(spec, f"joint={joint},threshold={threshold}")
    torch.manual_seed(0)
    x, u = torch.rand(8, 1, 28, 28), torch.rand(24, 1, 28, 28)
    batch = SemiBatch(model, model, x, torch.arange(8) % 10, u, torch.Generator().manual_seed(5), lambda t: t, 1, 10)
    model.zero_grad()
    loss, stats = spec.fn(batch, settings)
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in model.parameters()], stats["mask_rate"]


def test_fixmatchs_one_forward_pass_is_the_separate_passes_without_batch_norm_and_differs_with_it():
    torch.manual_seed(1)
    flat = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    separate, joint = _fixmatch_step(flat, 0), _fixmatch_step(flat, 1)
    assert separate[2] == joint[2] == 1.0  # threshold 0: every pseudo-label is kept
    assert torch.allclose(separate[0], joint[0], atol=1e-6)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(separate[1], joint[1]))
    torch.manual_seed(1)
    normed = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10), torch.nn.BatchNorm1d(10)).train()
    assert not torch.allclose(_fixmatch_step(normed, 0)[0], _fixmatch_step(normed, 1)[0], atol=1e-4)


def test_a_registered_method_joins_the_semi_study():
    """The semi study has a variant per registered method: a new method is its file, nothing else to edit."""
    from mnistlab.sweeps.grid import make_spec
    from mnistlab.sweeps.studies import variants_of
    from mnistlab.training.semi.registry import METHODS, register_method

    before = variants_of("semi")
    assert [label for label, _ in before][2:4] == list_methods() == ["fixmatch", "pseudolabel"]
    register_method("tiny-method", label="Tiny")(lambda batch, settings: (batch.labelled_x.sum(), {}))
    try:
        assert ("tiny-method", {"unlabeled": "all", "semi_method": "tiny-method"}) in variants_of("semi")
        spec = make_spec(RunConfig(), ["mlp"], [1], [0], "semi")
        assert [v["label"] for v in spec.variants] == [label for label, _ in variants_of("semi")]
    finally:
        METHODS.unregister("tiny-method")
    assert variants_of("semi") == before
