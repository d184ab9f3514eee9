"""Where a selection rule chose the labels: per variant, model and budget, how many classes its picks covered on
each seed, which classes it missed, and the accuracy of each seed beside it (the worst seed shows a lost digit)."""
from __future__ import annotations

from collections import defaultdict

from mnistlab.i18n import number, t
from mnistlab.runs.rows import SweepRow

DEFAULT = "random"  # the notebook's balanced draw (mnistlab.selection): covers every class by construction


def answer(rows: list[SweepRow]) -> list[dict]:
    """One record per (variant, model, budget) whose runs' labels a rule chose, seeds in order."""
    cells: dict[tuple, list[SweepRow]] = defaultdict(list)
    for r in rows:
        rule = r.run_config.select
        if r.result is not None and rule != DEFAULT and r.result.train_counts:
            cells[(r.variant, r.model, r.samples_per_class, rule)].append(r)
    out = []
    for (variant, model, budget, rule), runs in sorted(cells.items()):
        results = [r.result for r in sorted(runs, key=lambda r: r.seed) if r.result is not None]
        out.append({"variant": variant, "model": model, "samples_per_class": budget, "select": rule,
                    "seeds": sorted(r.seed for r in runs),
                    "covered": [sum(n > 0 for n in res.train_counts) for res in results],
                    "missing": [[c for c, n in enumerate(res.train_counts) if n == 0] for res in results],
                    "test_acc": [res.test_acc for res in results]})
    return out


def describe(records: list[dict], labels: dict[str, str], lang: str) -> list[str]:
    lines = []
    for rec in records:
        per_seed = ", ".join(f"{s}: {c}" for s, c in zip(rec["seeds"], rec["covered"]))
        worst = min(range(len(rec["seeds"])), key=lambda i: rec["test_acc"][i])
        lines.append(t("sel_finding", lang, label=labels.get(rec["model"], rec["model"]), variant=rec["variant"],
                       spc=rec["samples_per_class"], rule=rec["select"], per_seed=per_seed,
                       worst=rec["seeds"][worst], acc=number(100 * rec["test_acc"][worst], lang, 2)))
    return lines
