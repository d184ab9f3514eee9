"""A job: one model's run as the pipeline receives it (resolved config, the key it is stored under, variant)."""
from __future__ import annotations

from dataclasses import dataclass

from mnistlab.config import RunConfig, validate
from mnistlab.models.registry import get_spec


@dataclass(frozen=True)
class Job:
    config: RunConfig
    key: str
    variant: str = "base"

    @classmethod
    def of(cls, cfg: RunConfig, data_md5: dict, variant: str = "base") -> Job:
        """A validated job for a registered model; a ConfigError names what is wrong."""
        validate(cfg)
        get_spec(cfg.model)
        return cls(cfg, cfg.key(data_md5), variant)

    @property
    def model(self) -> str:
        return self.config.model
