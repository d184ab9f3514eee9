"""A job: one model's run as the pipeline receives it (resolved config, the key it is stored under, variant)."""
from __future__ import annotations

from dataclasses import dataclass

from mnistlab.config import RunConfig, validate
from mnistlab.data.registry import get_dataset, list_datasets
from mnistlab.errors import ConfigError, DataError
from mnistlab.models.registry import get_spec


def check(cfg: RunConfig) -> RunConfig:
    """Validate a config as far as the layers below know it: its fields, its model, its dataset's limits."""
    validate(cfg)
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
    return cfg


@dataclass(frozen=True)
class Job:
    config: RunConfig
    key: str
    variant: str = "base"

    @classmethod
    def of(cls, cfg: RunConfig, data_md5: dict, variant: str = "base") -> Job:
        """A checked job; a ConfigError names what is wrong. A user model is named by its canonical spec and
        its source's hash joins the config, so the key changes with the model's code."""
        check(cfg)
        spec = get_spec(cfg.model)
        cfg = cfg.with_(model=spec.name, model_source=spec.source_sha256)
        return cls(cfg, cfg.key(data_md5), variant)

    @property
    def model(self) -> str:
        return self.config.model
