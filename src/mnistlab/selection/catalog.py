"""Every selection rule by name: mnistlab's own (one file each in rules/) and a user's own, `path/to/file.py:attr`
or `package.module:attr`, imported by the rules every user code follows (mnistlab.usercode). A user's rule is a
function `(pool) -> indices`; it is given images, never labels, and its file's SHA-256 enters the run's key."""
from __future__ import annotations

import hashlib
import importlib

import numpy as np

import mnistlab.usercode as usercode
from mnistlab.errors import ConfigError
from mnistlab.registry import load_folder
from mnistlab.selection.rule import FLAG, RULES, Pool, SelectionRule, checked_indices

DEFAULT = "random"
importlib.import_module("mnistlab.selection.rules.random")  # the default and its label-free twin listed first
load_folder("mnistlab.selection.rules")
_picked: dict[tuple, np.ndarray] = {}


def list_rules() -> list[SelectionRule]:
    return list(RULES)


def get_rule(name: str) -> SelectionRule:
    """The rule a name or user spec names, or one ConfigError line."""
    return RULES.get(name)


def _resolve(name: str, key: str, reload: bool) -> SelectionRule:
    attr = key.rpartition(":")[2]
    fn, source_file = usercode.load_function(name, key, reload, FLAG)
    label = getattr(fn, "label", None)
    return SelectionRule(key, label if isinstance(label, str) and label else attr, fn, uses_labels=False,
                         source_file=source_file, source_sha256=usercode.sha256_of(source_file) if source_file else "")


RULES.takes_user_code(_resolve)


def check_count(rule: SelectionRule, count: int, pool_size: int) -> None:
    """One line when a rule cannot pick `count` images from a pool of `pool_size` (before any work)."""
    if count > pool_size:
        raise ConfigError(f"{FLAG} {rule.name}: cannot pick {count:,} images from a pool of {pool_size:,}")
    if rule.max_count is not None and count > rule.max_count:
        raise ConfigError(f"{FLAG} {rule.name}: picks at most {rule.max_count:,} images (here {count:,} were asked "
                          "for); use a smaller --samples-per-class or --select random")


def select(rule: SelectionRule | str, images: np.ndarray, count: int, seed: int, labels: np.ndarray | None = None,
           class_counts: tuple[int, ...] = ()) -> np.ndarray:
    """The indices a rule (or the rule a name names) picks. Labels reach only a rule that declares it uses them; a
    user's rule runs under the user-code guard and its answer is checked (count, range, distinct)."""
    rule = get_rule(rule) if isinstance(rule, str) else rule
    check_count(rule, count, len(images))
    pool = Pool(images, count, seed, tuple(class_counts), labels if rule.uses_labels else None)
    if not rule.source_file:
        key = (rule.name, count, seed, tuple(class_counts), hashlib.sha256(np.ascontiguousarray(images).data).digest())
        if key not in _picked:  # the models of one cell share their pick (one pool per process: a sweep's dataset)
            _picked[key] = checked_indices(rule, rule.pick(pool), pool)
        return _picked[key].copy()
    with usercode.user_code(f"{FLAG} {rule.name}: selecting failed"):
        picked = rule.pick(pool)
    return checked_indices(rule, picked, pool)
