"""A job: one model's run as the pipeline receives it (resolved config, the key it is stored under, variant), and
its plan: what the config's names resolved to, looked up once so that nothing downstream looks a name up again."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

import mnistlab.usercode as usercode
from mnistlab.config import SEMI_FIELDS, RunConfig, class_counts, validate
from mnistlab.data.registry import get_dataset, list_datasets
from mnistlab.errors import ConfigError, DataError
from mnistlab.models.registry import check_model_args, get_spec
from mnistlab.models.spec import ModelSpec
from mnistlab.selection.catalog import DEFAULT as DEFAULT_RULE
from mnistlab.selection.catalog import check_count, get_rule
from mnistlab.selection.rule import SelectionRule
from mnistlab.training.semi.catalog import FLAG as METHOD_FLAG
from mnistlab.training.semi.catalog import get_method
from mnistlab.training.semi.registry import MethodSpec, canonical_options, resolve_settings


@dataclass(frozen=True)
class RunPlan:
    """What a checked config names, resolved: the model's spec, the selection rule (None: the notebook's balanced
    draw), the semi-supervised method (None: a supervised run) with its checked settings. A user's code in it is
    the version the config's hashes name."""
    model: ModelSpec
    rule: SelectionRule | None = None
    method: MethodSpec | None = None
    settings: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, cfg: RunConfig) -> RunPlan:
        """The plan of a config already checked (its names canonical, its hashes recorded), e.g. a job that came
        to a Ray worker as data; a user's file that is no longer the recorded version is one ConfigError line."""
        model = get_spec(cfg.model)
        usercode.check_recorded(f"model {cfg.model}", model, cfg.model_source)
        rule = None if cfg.select == DEFAULT_RULE else get_rule(cfg.select)
        if rule is not None:
            usercode.check_recorded(f"--select {cfg.select}", rule, cfg.select_source)
        if not cfg.unlabeled:
            return cls(model, rule)
        method = get_method(cfg.semi_method)
        usercode.check_recorded(f"{METHOD_FLAG} {cfg.semi_method}", method, cfg.semi_source)
        return cls.semi(model, rule, method, cfg.semi_options)

    @classmethod
    def semi(cls, model: ModelSpec, rule: SelectionRule | None, method: MethodSpec, options: str) -> RunPlan:
        """A semi-supervised run's plan: the method's settings checked and frozen."""
        return cls(model, rule, method, MappingProxyType(resolve_settings(method, options)))

    @property
    def uratio(self) -> float:
        """The unlabelled batch's multiple of the labelled one (0 for a supervised run)."""
        return self.settings.get("uratio", 0.0)


def check(cfg: RunConfig) -> RunConfig:
    """Validate a config as far as the layers below know it: its fields, its model and its settings, its dataset's
    limits; its names come back canonical and its user code's hashes recorded."""
    return resolve(cfg)[0]


def resolve(cfg: RunConfig) -> tuple[RunConfig, RunPlan]:
    """The checked config as it is keyed, and its plan: every name looked up here, once."""
    cfg = check_model_args(validate(cfg))
    model = get_spec(cfg.model)
    try:
        dataset = get_dataset(cfg.dataset)
    except DataError:
        names = ", ".join(d.name for d in list_datasets())
        raise ConfigError(f"--dataset {cfg.dataset!r}: unknown dataset; choose from {names}") from None
    if cfg.samples_per_class > dataset.max_per_class:
        raise ConfigError(f"--samples-per-class {cfg.samples_per_class}: must be an integer from 1 to "
                          f"{dataset.max_per_class} (the smallest class of {dataset.label} has "
                          f"{dataset.max_per_class:,} training images)")
    cfg = cfg.with_(model=model.name, model_source=model.source_sha256)
    pool = sum(dataset.train_class_counts)
    cfg, rule = resolve_selection(cfg, pool)
    if not cfg.unlabeled:
        defaults = RunConfig()  # a supervised run ignores the semi settings (a study's shared --steps): not in its key
        return cfg.with_(**{name: getattr(defaults, name) for name in SEMI_FIELDS}), RunPlan(model, rule)
    cfg, method = resolve_semi(cfg, pool - sum(class_counts(cfg)))
    return cfg, RunPlan.semi(model, rule, method, cfg.semi_options)


def resolve_selection(cfg: RunConfig, pool: int) -> tuple[RunConfig, SelectionRule | None]:
    """The selection rule by its canonical name with its source's hash (a user's file), and the count it must
    pick checked against what the rule can do, before any work."""
    if cfg.select == DEFAULT_RULE:
        return cfg.with_(select_source=""), None
    rule = get_rule(cfg.select)
    check_count(rule, sum(class_counts(cfg)), pool)
    return cfg.with_(select=rule.name, select_source=rule.source_sha256), rule


def resolve_semi(cfg: RunConfig, pool: int) -> tuple[RunConfig, MethodSpec]:
    """A semi-supervised config as it is keyed: `all` as the pool's size, the method by its canonical name with
    its source's hash (a user's file), its options without those equal to the method's defaults."""
    if isinstance(cfg.unlabeled, int) and cfg.unlabeled > pool:
        raise ConfigError(f"--unlabeled {cfg.unlabeled}: larger than the pool of {pool:,} training images outside "
                          f"the labelled subset; give at most {pool} or all")
    method = get_method(cfg.semi_method)
    return cfg.with_(unlabeled=pool if cfg.unlabeled == "all" else cfg.unlabeled, semi_method=method.name,
                     semi_options=canonical_options(method, cfg.semi_options),
                     semi_source=method.source_sha256), method


@dataclass(frozen=True)
class Job:
    config: RunConfig
    key: str
    variant: str = "base"

    @classmethod
    def of(cls, cfg: RunConfig, data_md5: dict | None = None, variant: str = "base") -> Job:
        """A checked job: the one place a config is validated (a ConfigError names what is wrong). Its key covers
        the data's verified MD5s (by default its dataset's published ones, which loading checks). A user model is
        named by its canonical spec and its source's hash joins the config, so the key changes with its code."""
        cfg, plan = resolve(cfg)
        job = cls(cfg, cfg.key(data_md5 if data_md5 is not None else get_dataset(cfg.dataset).md5s), variant)
        job.__dict__["plan"] = plan  # resolved while checking: not looked up again
        return job

    @cached_property
    def plan(self) -> RunPlan:
        """What the config resolved to (a job rebuilt from its stored config, as a Ray worker does, resolves it
        on first use, with its user code checked against the recorded hashes)."""
        return RunPlan.of(self.config)

    @property
    def model(self) -> str:
        return self.config.model
