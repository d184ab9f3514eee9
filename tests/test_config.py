import pytest

from mnistlab.config import ConfigError, RunConfig, class_counts, parse_imbalance, validate


@pytest.mark.parametrize("changes,needle", [
    ({"samples_per_class": 0}, "--samples-per-class 0"),
    ({"val_split": 1.5}, "--val-split 1.5"),
    ({"val_split": 0.0}, "--val-split 0.0"),
    ({"epochs": 0}, "--epochs 0"),
    ({"lr": -1.0}, "--lr -1.0"),
    ({"lr": float("nan")}, "--lr nan"),
    ({"batch_size": 0}, "--batch-size 0"),
    ({"samples_per_class": 1, "val_split": 0.05}, "leaves validation empty"),
    ({"noise": 1.5}, "--noise 1.5"),
    ({"noise": -0.1}, "--noise -0.1"),
    ({"imbalance": "zipf:0.1"}, "unknown scheme"),
    ({"imbalance": "reduce:3,12:0.1"}, "class 12 is outside 0-9"),
    ({"imbalance": "reduce:3:0"}, "ratio 0.0 must be in (0, 1]"),
    ({"imbalance": "reduce:3"}, "malformed"),
    ({"remedy": "magic"}, "--remedy"),
    ({"eval_noise": (0.1, 2.0)}, "--eval-noise 2.0"),
])
def test_bad_values_are_named(changes, needle):
    with pytest.raises(ConfigError) as e:
        validate(RunConfig().with_(**changes))
    assert needle in str(e.value)


def test_defaults_are_the_notebooks_and_valid():
    cfg = validate(RunConfig())
    assert (cfg.samples_per_class, cfg.val_split, cfg.epochs, cfg.patience, cfg.batch_size, cfg.lr) == \
        (300, 0.2, 30, 5, 128, 1e-3)


def test_key_depends_on_everything_that_matters():
    base = RunConfig()
    assert base.key() == RunConfig().key()
    keys = {base.key(), base.with_(seed=1).key(), base.with_(noise=0.1).key(), base.with_(model="cnn").key()}
    assert len(keys) == 4  # every pair differs
    assert base.key({"a": "1"}) != base.key({"a": "2"})
    assert RunConfig.from_dict(base.to_dict()) == base


def test_default_keys_are_the_first_releases():
    """Stores written by mnistlab 0.1.0 resume: the notebook's default runs keep their keys."""
    from mnistlab.data.mnist import IDX_MD5

    assert RunConfig(model="mlp").key(IDX_MD5) == "4aa31e1f2188cb4f"
    assert RunConfig(model="cnn").key(IDX_MD5) == "203fe698c07fb9fd"


def test_every_field_is_declared_once_with_its_help():
    from dataclasses import fields

    from mnistlab.config import flag_of

    for f in fields(RunConfig):
        assert f.metadata["help"], f.name
        if f.metadata["check"] is not None:
            assert f.metadata["allowed"], f.name
    assert flag_of("samples_per_class") == "--samples-per-class" and flag_of("shift") == "shift"


def test_imbalance_profiles_give_requested_counts():
    assert class_counts(RunConfig(samples_per_class=100, imbalance="reduce:3,5:0.1")) == \
        [100, 100, 100, 10, 100, 10, 100, 100, 100, 100]
    longtail = class_counts(RunConfig(samples_per_class=1000, imbalance="longtail:0.01"))
    assert longtail[0] == 1000 and longtail[-1] == 10
    assert all(a > b for a, b in zip(longtail, longtail[1:]))
    assert parse_imbalance("longtail:0.5") == ("longtail", [], 0.5)


@pytest.mark.parametrize("changes,needle", [
    ({"samples_per_class": 5422}, "from 1 to 5421"),
    ({"samples_per_class": 6001, "dataset": "fashion-mnist"}, "from 1 to 6000"),
    ({"dataset": "nosuch"}, "--dataset 'nosuch': unknown dataset; choose from mnist, fashion-mnist"),
    ({"model": "resnet"}, "unknown model"),
])
def test_jobs_check_what_the_registries_know(changes, needle):
    from mnistlab.runs.job import check

    with pytest.raises(ConfigError) as e:
        check(RunConfig().with_(**changes))
    assert needle in str(e.value)
    check(RunConfig(samples_per_class=6000, dataset="fashion-mnist"))  # Fashion-MNIST has 6,000 per class


def test_model_settings_keep_the_first_releases_keys_and_stored_form():
    """The four settings of the first release were config fields: stored configs and keys read as before."""
    from mnistlab.data.mnist import IDX_MD5

    legacy = {**RunConfig(model="cnn").to_dict(), "mlp_hidden": 8, "cnn_fc": 8}  # a stored 0.1.0 config
    cfg = RunConfig.from_dict(legacy)
    assert cfg.model_args == (("cnn_fc", 8), ("mlp_hidden", 8)) and cfg.to_dict() == legacy
    order = list(cfg.to_dict())  # written as before, so results.json and sweep.json read byte for byte the same
    assert order[order.index("seed") + 1:order.index("precision")] == ["mlp_hidden", "cnn_c1", "cnn_c2", "cnn_fc"]
    assert RunConfig(model="cnn", model_args={"cnn_fc": 128}) == RunConfig(model="cnn")  # a default is not kept
    assert RunConfig(model="cnn", model_args={"cnn_c1": 16, "cnn_fc": 8}).key(IDX_MD5) != RunConfig(
        model="cnn").key(IDX_MD5)
    # A setting declared since enters the key only when set.
    assert RunConfig(model_args={"tiny_width": 3}).key() != RunConfig().key()
    with pytest.raises(ConfigError, match="unknown config key 'Wide'"):
        RunConfig.from_dict({"Wide": 1})


def test_a_misspelt_field_is_named_with_the_field_it_resembles():
    with pytest.raises(ConfigError, match="^unknown config key 'epoch' \\(did you mean epochs\\?\\); allowed: "):
        RunConfig.from_dict({"epoch": 3})
    with pytest.raises(ConfigError, match="^'patiense': neither a config field \\(did you mean patience\\?\\) nor"):
        validate(RunConfig(model_args={"patiense": 3}))  # the API passes a name it does not know on as a setting
    with pytest.raises(ConfigError, match="^'xyz': neither a config field nor a model's setting"):
        validate(RunConfig(model_args={"xyz": 3}))
