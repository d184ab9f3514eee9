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
        """A validated job; a ConfigError names what is wrong. A user model is named by its canonical spec
        and its source's hash joins the config, so the key changes with the model's code."""
        validate(cfg)
        spec = get_spec(cfg.model)
        cfg = cfg.with_(model=spec.name, model_source=spec.source_sha256)
        return cls(cfg, cfg.key(data_md5), variant)

    @property
    def model(self) -> str:
        return self.config.model
