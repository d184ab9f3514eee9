"""The sweep's answers in words, written from the numbers (pt and en)."""
from __future__ import annotations

from mnistlab.i18n import number, t


def describe_comparison(rec: dict, labels: dict[str, str], lang: str = "en") -> str:
    """A paired comparison of two models in plain words: who leads, by how much, how sure."""
    d = rec["diff"]
    lead = labels[rec["b"]] if d["mean"] > 0 else labels[rec["a"]]
    other = labels[rec["a"]] if d["mean"] > 0 else labels[rec["b"]]
    variant = "" if rec["variant"] == "base" else f" ({rec['variant']})"
    if rec["n"] < 2:
        return t("sweep_finding_single", lang, spc=rec["samples_per_class"], variant=variant, lead=lead, other=other,
                 diff=number(100 * abs(d["mean"]), lang))
    sure = t("ci_excludes" if d["ci_low"] > 0 or d["ci_high"] < 0 else "ci_includes", lang)
    if rec["n"] < 6:  # the smallest two-sided Wilcoxon p with n pairs is 2 / 2^n
        sure += t("wilcoxon_floor", lang, n=rec["n"], p=f"{2 / 2 ** rec['n']:.3g}")
    family = rec.get("family_size", 1)
    if family > 1:
        sure += t("holm_note", lang, k=family)
    tp, wp = (rec["ttest_p_holm"], rec["wilcoxon_p_holm"]) if family > 1 else (rec["ttest_p"], rec["wilcoxon_p"])
    sign = 1 if d["mean"] > 0 else -1  # the interval of the leader's advantage
    low, high = sorted((sign * d["ci_low"], sign * d["ci_high"]))
    key = "sweep_finding" if family == 1 else "sweep_finding_pair"
    return t(key, lang, spc=rec["samples_per_class"], variant=variant, lead=lead, other=other,
             diff=number(100 * abs(d["mean"]), lang), low=number(100 * low, lang), high=number(100 * high, lang),
             n=rec["n"], tp=f"{tp:.3g}", wp=f"{wp:.3g}", sure=sure)
