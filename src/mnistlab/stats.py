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


def describe_comparison(rec: dict, lang: str = "en") -> str:
    """A paired MLP-vs-CNN comparison in plain words: who leads, by how much, how sure (both languages)."""
    from mnistlab.i18n import number, t

    d = rec["diff"]
    lead = "CNN" if d["mean"] > 0 else "MLP"
    variant = "" if rec["variant"] == "base" else f" ({rec['variant']})"
    if rec["n"] < 2:
        return t("sweep_finding_single", lang, spc=rec["samples_per_class"], variant=variant, lead=lead,
                 diff=number(100 * abs(d["mean"]), lang))
    sure = t("ci_excludes" if d["ci_low"] > 0 or d["ci_high"] < 0 else "ci_includes", lang)
    if rec["n"] < 6:  # the smallest two-sided Wilcoxon p with n pairs is 2 / 2^n
        sure += t("wilcoxon_floor", lang, n=rec["n"], p=f"{2 / 2 ** rec['n']:.3g}")
    sign = 1 if lead == "CNN" else -1  # the interval of the leader's advantage
    low, high = sorted((sign * d["ci_low"], sign * d["ci_high"]))
    return t("sweep_finding", lang, spc=rec["samples_per_class"], variant=variant, lead=lead,
             diff=number(100 * abs(d["mean"]), lang), low=number(100 * low, lang), high=number(100 * high, lang),
             n=rec["n"], tp=f"{rec['ttest_p']:.3g}", wp=f"{rec['wilcoxon_p']:.3g}", sure=sure)
