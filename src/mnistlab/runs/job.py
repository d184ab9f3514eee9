"""A job: one model's run as the pipeline receives it (resolved config, the key it is stored under, variant)."""
from __future__ import annotations

from dataclasses import dataclass

from mnistlab.config import SEMI_FIELDS, RunConfig, class_counts, validate
from mnistlab.data.registry import get_dataset, list_datasets
from mnistlab.errors import ConfigError, DataError
from mnistlab.models.registry import check_model_args, get_spec


def check(cfg: RunConfig) -> RunConfig:
    """Validate a config as far as the layers below know it: its fields, its model and its settings, its dataset's
    limits."""
    cfg = check_model_args(validate(cfg))
    get_spec(cfg.model)
    try:
        dataset = get_dataset(cfg.dataset)
    except DataError:
        names = ", ".join(d.name for d in list_datasets())
        raise ConfigError(f"--dataset {cfg.dataset!r}: unknown dataset; choose from {names}") from None
    if cfg.samples_per_class > dataset.max_per_class:
        raise ConfigError(f"--samples-per-class {cfg.samples_per_class}: must be an integer from 1 to "
                          f"{dataset.max_per_class} (the smallest class of {dataset.label} has "
                          f"{dataset.max_per_class:,} training images)")
    cfg = resolve_selection(cfg, sum(dataset.train_class_counts))
    if cfg.unlabeled:
        return resolve_semi(cfg, sum(dataset.train_class_counts) - sum(class_counts(cfg)))
    defaults = RunConfig()  # a supervised run ignores the semi settings (a study's shared --steps): not in its key
    return cfg.with_(**{name: getattr(defaults, name) for name in SEMI_FIELDS})


def resolve_selection(cfg: RunConfig, pool: int) -> RunConfig:
    """The selection rule by its canonical name with its source's hash (a user's file), and the count it must
    pick checked against what the rule can do, before any work."""
    from mnistlab.selection.catalog import DEFAULT, check_count, get_rule

    if cfg.select == DEFAULT:
        return cfg.with_(select_source="")
    rule = get_rule(cfg.select)
    check_count(rule, sum(class_counts(cfg)), pool)
    return cfg.with_(select=rule.name, select_source=rule.source_sha256)


def resolve_semi(cfg: RunConfig, pool: int) -> RunConfig:
    """A semi-supervised config as it is keyed: `all` as the pool's size, the method by its canonical name with
    its source's hash (a user's file), its options without those equal to the method's defaults."""
    from mnistlab.training.semi.catalog import get_method
    from mnistlab.training.semi.registry import canonical_options

    if isinstance(cfg.unlabeled, int) and cfg.unlabeled > pool:
        raise ConfigError(f"--unlabeled {cfg.unlabeled}: larger than the pool of {pool:,} training images outside "
                          f"the labelled subset; give at most {pool} or all")
    method = get_method(cfg.semi_method)
    return cfg.with_(unlabeled=pool if cfg.unlabeled == "all" else cfg.unlabeled, semi_method=method.name,
                     semi_options=canonical_options(method, cfg.semi_options), semi_source=method.source_sha256)


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
        cfg = check(cfg)
        if data_md5 is None:
            data_md5 = get_dataset(cfg.dataset).md5s
        spec = get_spec(cfg.model)
        cfg = cfg.with_(model=spec.name, model_source=spec.source_sha256)
        return cls(cfg, cfg.key(data_md5), variant)

    @property
    def model(self) -> str:
        return self.config.model
