"""One language per output: the default from the locale, numbers written as that language writes them."""

import pytest

from mnistlab.i18n import default_lang, interval, number, pvalue
from mnistlab.sweeps.findings import describe_comparison


@pytest.mark.parametrize("env, lang", [
    ({"LANG": "pt_BR.UTF-8"}, "pt"), ({"LANG": "pt_PT"}, "pt"), ({"LANG": "en_US.UTF-8"}, "en"),
    ({"LANG": "C.UTF-8"}, "en"), ({}, "en"), ({"LC_ALL": "en_GB.UTF-8", "LANG": "pt_BR.UTF-8"}, "en"),
    ({"LC_MESSAGES": "pt_BR", "LANG": "de_DE"}, "pt"), ({"LC_ALL": "", "LANG": "pt_BR"}, "pt")])
def test_the_default_language_follows_the_locale(monkeypatch, env, lang):
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert default_lang() == lang


def test_every_command_offers_both_languages_and_defaults_to_the_locale(monkeypatch):
    from mnistlab.cli.main import build_parser
    from mnistlab.errors import UsageError

    for name in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    for locale, expected in (("pt_BR.UTF-8", "pt"), ("en_US.UTF-8", "en")):
        monkeypatch.setenv("LANG", locale)
        parser = build_parser()  # the default is read from the locale when the parser is made
        for argv in (["run"], ["sweep"], ["summarize", "x"], ["report", "x"], ["explain", "x"]):
            assert parser.parse_args(argv).lang == expected, (argv, locale)
            assert parser.parse_args([*argv, "--lang", "en"]).lang == "en"
            with pytest.raises(UsageError, match="--lang: invalid choice: 'de'"):
                parser.parse_args([*argv, "--lang", "de"])


def test_numbers_are_written_as_each_language_writes_them():
    assert number(-1.2) == "−1,20" and number(-1.2, "en") == "−1.20" and number(None) == "–"
    assert interval(3.38, 6.36) == "[3,38; 6,36]" and interval(-0.07, 0.29, "en") == "[−0.07, 0.29]"
    assert pvalue(0.00503) == "0,00503" and pvalue(1.2e-5, "en") == "1.2e−05"


def test_a_finding_in_portuguese_uses_one_decimal_mark_and_one_minus_sign():
    rec = {"a": "mlp", "b": "cnn", "variant": "base", "samples_per_class": 50, "n": 5, "family_size": 1,
           "diff": {"n": 5, "mean": 0.0487, "sd": 0.01, "ci_low": 0.0338, "ci_high": 0.0636},
           "ttest_p": 0.00503, "wilcoxon_p": 0.0625}
    pt = describe_comparison(rec, {"mlp": "MLP", "cnn": "CNN"}, "pt")
    assert "[3,38; 6,36]" in pt and "p=0,00503" in pt and "p=0,0625" in pt and "." not in pt.rstrip(".")
    en = describe_comparison(rec, {"mlp": "MLP", "cnn": "CNN"}, "en")
    assert "[3.38, 6.36]" in en and "p=0.00503" in en
    rec["diff"] = {**rec["diff"], "mean": -0.0487, "ci_low": -0.0636, "ci_high": -0.0338}
    assert "-" not in describe_comparison(rec, {"mlp": "MLP", "cnn": "CNN"}, "pt")


def test_summarize_in_english_says_nothing_in_portuguese(tiny_sweep, tmp_path, capsys):
    """(Portuguese alone: tests/test_results.py::test_portuguese_findings_and_nothing_but_portuguese.)"""
    from helpers import copied
    from mnistlab.cli.main import main

    sweep = copied(tiny_sweep, tmp_path / "sweep")
    assert main(["summarize", str(sweep), "--lang", "en"]) == 0
    en = capsys.readouterr().out
    assert "test accuracy over seeds" in en and "tables, figures and CSV written under" in en
    assert not any(word in en for word in ("Acurácia", "tabelas", "sementes", "por classe"))
