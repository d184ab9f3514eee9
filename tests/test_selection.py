"""Selection rules: which training images get labels. Label-free rules are given images only (garbled labels give
the same pick), the balanced draw is the notebook's, a run records the class counts it got, keys move only away
from `random`, a user's rule is held to its contract."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from mnistlab.config import RunConfig
from mnistlab.data.resident import ResidentData, split_indices
from mnistlab.errors import ConfigError
from mnistlab.runs.job import Job
from mnistlab.runs.pipeline import split_of
from mnistlab.selection.catalog import get_rule, list_rules, select

POOL = 3000  # the first training images: enough for clusters, quick to embed


@pytest.fixture(scope="module")
def small(mnist):
    """The first POOL training images of MNIST as a dataset of their own."""
    return replace(mnist, train_images=mnist.train_images[:POOL].clone(),
                   train_labels=mnist.train_labels[:POOL].clone())


@pytest.mark.parametrize("rule", ["typical", "random-any", "central-tsne"])
def test_a_label_free_rule_picks_the_same_images_whatever_the_labels(small, rule):
    cfg = RunConfig(samples_per_class=2, select=rule, unlabeled=0, early_stopping=False)
    job = Job.of(cfg)
    n = 1000 if rule.endswith("-tsne") else POOL  # a t-SNE map costs seconds per thousand images
    small = replace(small, train_images=small.train_images[:n], train_labels=small.train_labels[:n])
    shuffle = torch.randperm(n, generator=torch.Generator().manual_seed(1))
    garbled = replace(small, train_labels=small.train_labels[shuffle])
    from mnistlab.selection import catalog, embedding

    picks = []
    for d in (small, garbled):
        catalog._picked.clear(), embedding._cache.clear()  # each pick drawn afresh, not remembered
        picks.append(split_of(job, ResidentData(d, torch.device("cpu")))[0].train_idx)
    assert len(picks[0]) == 20 and len(set(picks[0].tolist())) == 20
    np.testing.assert_array_equal(picks[0], picks[1])


def test_only_the_balanced_draw_receives_labels():
    seen = []
    rules = {r.name: r for r in list_rules()}
    assert rules["random"].uses_labels and not any(r.uses_labels for n, r in rules.items() if n != "random")
    from mnistlab.selection.rule import RULES, Pool, SelectionRule, checked_indices

    probe = SelectionRule("probe", "probe", lambda pool: seen.append(pool.labels) or np.arange(pool.count))
    pool = Pool(np.zeros((50, 28, 28), np.uint8), 5, 0)
    checked_indices(probe, probe.pick(pool), pool)
    assert seen == [None] and "probe" not in RULES


def test_the_default_draw_is_the_notebooks_and_keys_do_not_move(small):
    cfg = RunConfig(samples_per_class=30)
    labels = small.train_labels.numpy()
    default = split_indices(labels, cfg)
    assert split_indices(labels, cfg.with_(select="random"))[0].tolist() == default[0].tolist()
    # (tests/test_config.py pins the first release's keys: the new field leaves them as they were)
    keys = {Job.of(cfg.with_(select=rule)).key for rule in ("random", "random-any", "typical")}
    assert len(keys) == 3


def test_a_rules_run_records_its_class_counts_and_may_miss_a_class(small):
    from mnistlab.cli.commands import chosen_lines

    data = ResidentData(small, torch.device("cpu"))
    cfg = RunConfig(samples_per_class=1, select="random-any", early_stopping=False, seed=3)
    split, _ = split_of(Job.of(cfg), data)
    counts = torch.bincount(split.train_y, minlength=10).tolist()
    assert sum(counts) == 10

    class Result:  # what chosen_lines reads of a ModelResult
        label, run_config, train_counts = "CNN", cfg, counts
    line = chosen_lines([Result()], "en")[0]
    assert "labels chosen by random (any class): 10 images" in line
    missing = [str(c) for c, n in enumerate(counts) if n == 0]
    assert ("none of class " + ", ".join(missing)) in line if missing else "none of" not in line


def test_typical_picks_one_image_per_cluster_and_covers_more_digits_than_chance(small):
    images, labels = small.train_images.numpy(), small.train_labels.numpy()
    picked = select("typical", images, 20, seed=0)
    assert len(set(picked.tolist())) == 20
    assert len(set(labels[picked].tolist())) >= 8  # k-means clusters follow digits in part


def test_picks_on_the_tsne_map_cover_the_digits(small):
    """(Seeded: the label-blind test above draws central-tsne twice afresh and gets the same picks.)"""
    images, labels = small.train_images.numpy()[:1000], small.train_labels.numpy()[:1000]
    picked = select("typical-tsne", images, 10, seed=0)
    assert len(set(labels[picked].tolist())) >= 8  # the whole pool: docs/selection.md


def write_rule(tmp_path, body: str) -> str:
    path = tmp_path / "rule.py"
    path.write_text("import numpy as np\n\n\ndef pick(pool):\n" + body)
    return f"{path}:pick"


def test_a_users_rule_is_given_images_and_keyed_by_its_file(tmp_path, small):
    spec = write_rule(tmp_path, "    assert pool.labels is None\n    return np.arange(pool.count)[::-1]\n")
    job = Job.of(RunConfig(samples_per_class=1, select=spec, early_stopping=False))
    assert job.config.select_source == get_rule(spec).source_sha256 != ""
    split, _ = split_of(job, ResidentData(small, torch.device("cpu")))
    assert sorted(split.train_idx.tolist()) == list(range(10))
    again = write_rule(tmp_path, "    return np.arange(pool.count)\n")
    assert Job.of(RunConfig(samples_per_class=1, select=again, early_stopping=False)).key != job.key


@pytest.mark.parametrize("body, message", [
    ("    return np.arange(pool.count - 1)\n", "picked 9 images, expected 10"),
    ("    return np.zeros(pool.count, dtype=int)\n", "more than once"),
    ("    return np.arange(pool.count) + 10**7\n", "outside the pool"),
    ("    return 'all of them'\n", "expected a 1-D array of integer indices"),
    ("    raise SystemExit(0)\n", "selecting failed: SystemExit"),
])
def test_a_users_rule_that_breaks_its_contract_is_one_line(tmp_path, small, body, message):
    spec = write_rule(tmp_path, body)
    with pytest.raises(ConfigError, match=message):
        select(spec, small.train_images.numpy(), 10, 0)


def test_bad_selection_input_is_named():
    with pytest.raises(ConfigError, match="^--select 'best': unknown selection rule; choose from random, random-any, "
                                          ".*, or give path/to/file.py:function or package.module:function$"):
        Job.of(RunConfig(select="best"))
    with pytest.raises(ConfigError, match="--select typical: picks at most 2,000 images"):
        Job.of(RunConfig(select="typical", samples_per_class=300))
    with pytest.raises(ConfigError, match="cannot make the imbalance"):
        Job.of(RunConfig(select="random-any", imbalance="longtail:0.1"))


def test_a_summary_says_which_classes_a_rules_labels_covered_per_seed():
    from helpers import stored_row
    from mnistlab.sweeps.chosen import answer, describe

    config = {"select": "typical-tsne", "early_stopping": False}
    rows = [stored_row("cnn", 1, 1, config=config, train_counts=[1, 2, 1, 1, 1, 1, 1, 0, 2, 0], test_acc=0.69),
            stored_row("cnn", 1, 0, config=config, train_counts=[1] * 10, test_acc=0.97),
            stored_row("cnn", 1, 0, variant="plain", train_counts=[1] * 10)]  # the balanced draw: not a rule's
    (record,) = answer(rows)
    assert record["seeds"] == [0, 1] and record["covered"] == [10, 8] and record["missing"] == [[], [7, 9]]
    (line,) = describe([record], {"cnn": "CNN"}, "en")
    assert "labels chosen by typical-tsne: classes covered per seed 0: 10, 1: 8; worst seed 1 at 69.00%" in line


def test_merged_cells_keep_every_island_of_a_map_whatever_its_size(monkeypatch):
    """Ten islands of 100 to 6,000 points: one pick each (k-means with ten clusters splits the big ones instead)."""
    import mnistlab.selection.rules.ward as ward
    from mnistlab.selection.rule import Pool

    rng = np.random.default_rng(0)
    sizes = [6000, 3000, 1500, 800, 400, 300, 200, 150, 120, 100]
    angles = 2 * np.pi * np.arange(10) / 10
    islands = [np.array([100 * np.cos(a), 100 * np.sin(a)]) + rng.normal(0, 8, (n, 2)) for a, n in zip(angles, sizes)]
    island_of = np.repeat(np.arange(10), sizes)
    monkeypatch.setattr(ward, "tsne_map", lambda images, seed: np.concatenate(islands).astype(np.float32))
    for seed in range(3):
        picked = ward.central_of_merged_cells(Pool(np.zeros((sum(sizes), 28, 28), np.uint8), 10, seed))
        assert sorted(island_of[picked].tolist()) == list(range(10))
