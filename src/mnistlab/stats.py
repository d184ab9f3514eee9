"""Statistics over seeds: mean, sd, 95% t-interval; MLP vs CNN paired by budget and seed."""
from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

AGGREGATED = ("test_acc", "best_val_loss", "epochs_run", "best_epoch", "gap_at_best", "balanced_acc", "macro_f1")


def mean_ci(values, confidence: float = 0.95) -> dict:
    """n, mean, sample sd and the t-based confidence interval of the mean (NaN bounds when n < 2)."""
    from scipy import stats

    x = np.asarray([v for v in values if v is not None], dtype=float)
    n = len(x)
    mean = float(x.mean()) if n else math.nan
    sd = float(x.std(ddof=1)) if n > 1 else math.nan
    if n > 1:
        half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * sd / math.sqrt(n)
    else:
        half = math.nan
    return {"n": n, "mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half}


def aggregate(rows: list[dict]) -> list[dict]:
    """One record per (variant, model, budget): mean/sd/CI of each metric in AGGREGATED."""
    groups = defaultdict(list)
    for r in rows:
        groups[(r["variant"], r["model"], r["samples_per_class"])].append(r)
    out = []
    order = lambda item: (item[0][0], ("mlp", "cnn").index(item[0][1]), item[0][2])  # noqa: E731 - MLP first
    for (variant, model, budget), members in sorted(groups.items(), key=order):
        rec = {"variant": variant, "model": model, "samples_per_class": budget, "n": len(members),
               "params": members[0]["params"], "seeds": sorted(m["seed"] for m in members)}
        for metric in AGGREGATED:
            rec[metric] = mean_ci([m[metric] for m in members])
        out.append(rec)
    return out


def paired_comparison(rows: list[dict], metric: str = "test_acc", a: str = "mlp", b: str = "cnn") -> list[dict]:
    """Per (variant, budget): b − a paired by seed, mean difference, 95% CI, Wilcoxon and paired t p-values."""
    from scipy import stats

    by = {(r["variant"], r["samples_per_class"], r["model"], r["seed"]): r[metric] for r in rows}
    cells = sorted({(v, n) for v, n, _, _ in by})
    out = []
    for variant, budget in cells:
        seeds = sorted(s for v, n, m, s in by if (v, n, m) == (variant, budget, a) and (v, n, b, s) in by)
        if not seeds:
            continue
        diffs = np.array([by[(variant, budget, b, s)] - by[(variant, budget, a, s)] for s in seeds])
        rec = {"variant": variant, "samples_per_class": budget, "n": len(seeds), "seeds": seeds,
               "diff": mean_ci(diffs), "wilcoxon_p": math.nan, "ttest_p": math.nan}
        if len(seeds) > 1 and np.any(diffs != 0):
            rec["wilcoxon_p"] = float(stats.wilcoxon(diffs).pvalue)
            rec["ttest_p"] = float(stats.ttest_rel([by[(variant, budget, b, s)] for s in seeds],
                                                   [by[(variant, budget, a, s)] for s in seeds]).pvalue)
        out.append(rec)
    return out


def describe_comparison(rec: dict, a: str = "MLP", b: str = "CNN") -> str:
    """A paired comparison in plain words."""
    d = rec["diff"]
    pp = lambda v: f"{100 * v:+.2f} pp"  # noqa: E731
    where = f"at {rec['samples_per_class']} per class" + (f" ({rec['variant']})" if rec["variant"] != "base" else "")
    if rec["n"] < 2:
        return f"{where}: {b} − {a} = {pp(d['mean'])} from a single seed; no interval or test possible."
    lead = b if d["mean"] > 0 else a
    sure = d["ci_low"] > 0 or d["ci_high"] < 0
    text = (f"{where}: {b} − {a} = {pp(d['mean'])} (95% CI {pp(d['ci_low'])} to {pp(d['ci_high'])}, "
            f"n={rec['n']} seeds); {lead} is ahead")
    text += (", and the interval excludes zero" if sure else ", but the interval includes zero")
    text += f"; paired t p={rec['ttest_p']:.3g}, Wilcoxon p={rec['wilcoxon_p']:.3g}"
    if rec["n"] < 6:
        text += f" (with {rec['n']} pairs Wilcoxon cannot go below p={2 / 2 ** rec['n']:.3g})"
    return text + "."
