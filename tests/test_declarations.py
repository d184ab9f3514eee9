"""Every setting, flag and study is checked from its declaration: hypothesis draws values outside and inside each
declared range of every registered method's settings and every model's, values every checked flag refuses (a new
setting or flag is covered the day it is declared), and every study's variants are keyed apart."""
from __future__ import annotations

import math
from dataclasses import fields

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mnistlab.cli.main import main
from mnistlab.config import RunConfig, flag_of
from mnistlab.errors import ConfigError
from mnistlab.models.registry import get_spec, list_models
from mnistlab.runs.job import Job
from mnistlab.sweeps.grid import make_spec
from mnistlab.sweeps.studies import STUDIES
from mnistlab.training.semi.catalog import get_method, list_methods
from mnistlab.training.semi.registry import Number, resolve_settings

DECLARED = [(name, setting) for name in list_methods() for setting in get_method(name).declarations]


def outside(rule: Number) -> st.SearchStrategy[float]:
    """Finite values the declaration refuses: below, above, or (a switch) between off and on."""
    if rule.switch:
        return st.floats(0.01, 0.99) | st.floats(1.01, 1e6) | st.floats(-1e6, -0.01)
    parts = []
    if math.isfinite(rule.low):
        parts.append(st.floats(rule.low - 1e6, rule.low, exclude_max=not rule.open_low))
    if math.isfinite(rule.high):
        parts.append(st.floats(rule.high, rule.high + 1e6, exclude_min=not rule.open_high))
    return st.one_of(parts)


def inside(rule: Number) -> st.SearchStrategy[float]:
    if rule.switch:
        return st.sampled_from([0.0, 1.0])
    low, high = max(rule.low, -1e6), min(rule.high, 1e6)
    return st.floats(low, high, exclude_min=rule.open_low, exclude_max=rule.open_high)


def test_every_setting_declares_a_range():
    unbounded = [f"{m}:{s}" for m, s in DECLARED if not get_method(m).declarations[s].switch
                 and get_method(m).declarations[s].low == -math.inf]
    assert unbounded == []  # mnistlab's own settings: a range each, where they are declared


@settings(max_examples=40, derandomize=True, deadline=None)
@given(st.data())
def test_a_value_outside_a_declared_range_is_refused_naming_it(data):
    method, name = data.draw(st.sampled_from(DECLARED))
    rule = get_method(method).declarations[name]
    bad = data.draw(outside(rule))
    with pytest.raises(ConfigError, match=f"^--semi-options {name}="):
        resolve_settings(get_method(method), f"{name}={bad!r}")
    good = data.draw(inside(rule))
    assert resolve_settings(get_method(method), f"{name}={good!r}")[name] == good


@settings(max_examples=6, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_command_refuses_it_before_anything_is_created(data, tmp_path_factory, capsys):
    method, name = data.draw(st.sampled_from(DECLARED))
    bad = data.draw(outside(get_method(method).declarations[name]))
    out = tmp_path_factory.mktemp("semi") / "run"
    status = main(["run", "--unlabeled", "10", "--semi-method", method, "--semi-options", f"{name}={bad!r}",
                   "--models", "logreg", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and f"{name}=" in err and not out.exists()


@pytest.mark.parametrize("study", sorted(STUDIES))
def test_no_two_variants_of_a_study_share_a_key(study):
    spec = make_spec(RunConfig(), ["mlp", "cnn"], [10], [0], study)
    jobs = [Job.of(cfg, variant=variant) for variant, cfg in spec.plan()]
    keys = {}
    for job in jobs:
        assert job.key not in keys, f"{job.variant} and {keys[job.key].variant} share a key"
        keys[job.key] = job
    for a in jobs:  # equal configs, equal keys: a key differs only where the configs do
        for b in jobs:
            assert (a.key == b.key) == (a.config == b.config)


FLAGGED = [f for f in fields(RunConfig) if f.metadata.get("check") and f.metadata.get("flag") is not None]
CANDIDATES = [-(2**40), -1, 0, 1, 2**33, -0.5, 0.5, 1.0, 1.5, 14.5, 180.5, 1e9, math.nan, math.inf, -math.inf]


@settings(max_examples=12, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_checked_flag_refuses_what_its_check_refuses(data, tmp_path_factory, capsys):
    """Every RunConfig field with a flag and a check (a new one is covered the day it is declared): a value its
    check refuses is one line naming the flag, exit 2, nothing created."""
    spec = data.draw(st.sampled_from(FLAGGED))
    numeric = st.sampled_from([v for v in CANDIDATES if isinstance(v, int) or not spec.type.startswith("int")])
    value = data.draw(numeric)
    assume(not spec.metadata["check"](value))
    out = tmp_path_factory.mktemp("flag") / "run"
    status = main(["run", flag_of(spec.name), repr(value) if isinstance(value, float) else str(value),
                   "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and flag_of(spec.name) in err and not out.exists(), (spec.name, err)


MODEL_SETTINGS = [(model, name) for model in list_models() for name in get_spec(model).settings]


@settings(max_examples=8, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_model_setting_refuses_a_value_outside_its_declared_range(data, tmp_path_factory, capsys):
    model, name = data.draw(st.sampled_from(MODEL_SETTINGS))
    rule = get_spec(model).settings[name]
    bad = data.draw(st.integers(rule.low - 10**6, rule.low - 1) | st.integers(rule.high + 1, rule.high + 10**6))
    flag = f"--{model}-{name}".replace("_", "-")
    out = tmp_path_factory.mktemp("setting") / "run"
    status = main(["run", "--models", model, flag, str(bad), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and flag in err and str(bad) in err and not out.exists(), err
