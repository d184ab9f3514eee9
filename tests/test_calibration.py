import math

import numpy as np
import pytest

from mnistlab import calibration


def sample(temperature: float, n: int = 20000, k: int = 10, seed: int = 0):
    """Logits and labels drawn from softmax(logits / temperature): a model whose calibrated temperature is known."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, size=(n, k))
    probs = np.exp(calibration.log_softmax(logits, temperature))
    labels = np.array([rng.choice(k, p=p) for p in probs])
    return logits, labels


def test_ece_is_near_zero_for_a_calibrated_model_and_large_for_an_overconfident_one():
    logits, labels = sample(1.0)
    assert calibration.ece(logits, labels) < 0.02
    sharp_logits, sharp_labels = sample(2.5)  # the labels follow logits / 2.5: the raw logits are overconfident
    assert calibration.ece(sharp_logits, sharp_labels) > 0.1


def test_fitted_temperature_recovers_the_true_one_and_lowers_ece_and_nll():
    logits, labels = sample(2.5)
    t = calibration.fit_temperature(logits, labels)
    assert t == pytest.approx(2.5, rel=0.08)
    assert calibration.ece(logits, labels, t) < calibration.ece(logits, labels) / 4
    assert calibration.nll(logits, labels, t) < calibration.nll(logits, labels)


def test_ece_by_hand_on_two_bins():
    # Two predictions at confidence ~0.9 (one right) and one at ~0.5 (right): |0.5-0.9|*2/3 + |1-0.5|/3.
    logits = np.log(np.array([[0.9, 0.1], [0.9, 0.1], [0.5, 0.5 - 1e-9]]))
    labels = np.array([0, 1, 0])
    expected = (abs(1 - 0.9 * 2) + abs(1 - 0.5)) / 3
    assert calibration.ece(logits, labels) == pytest.approx(expected, abs=1e-6)
    bins = calibration.reliability(logits, labels)
    assert sum(bins["count"]) == 3 and bins["count"][13] == 2 and bins["count"][7] == 1


def test_nll_matches_its_definition():
    logits = np.array([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    labels = np.array([0, 2])
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert calibration.nll(logits, labels) == pytest.approx(-(math.log(p[0, 0]) + math.log(p[1, 2])) / 2)


def test_stored_logits_round_trip_in_float16():
    logits, labels = sample(1.0, n=500)
    back, back_labels, t = calibration.decode(calibration.encode(logits, labels, 1.7))
    assert back.shape == logits.shape and t == 1.7 and (back_labels == labels).all()
    assert np.abs(back - logits).max() < 0.01  # float16 keeps logits of this size to ~3 decimals


def test_every_variant_of_a_study_gets_its_calibration_and_one_without_validation_its_ece_as_trained():
    from helpers import stored_row
    from mnistlab.calibration import encode
    from mnistlab.sweeps.calibrated import answer, describe

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 200)
    logits = rng.normal(size=(200, 10)) + 3 * np.eye(10)[labels]
    rows = [stored_row(model, 10, seed, variant=variant, calibration=encode(logits, labels, temperature))
            for variant, temperature in (("plain", 1.3), ("recipe", 1.1), ("fixmatch", None))
            for model in ("mlp", "cnn") for seed in range(2)]
    records = answer(rows, ["mlp", "cnn"])
    assert [(r["variant"], r["model"]) for r in records] == [
        ("plain", "mlp"), ("plain", "cnn"), ("fixmatch", "mlp"), ("fixmatch", "cnn"), ("recipe", "mlp"),
        ("recipe", "cnn")]
    fixmatch = [r for r in records if r["variant"] == "fixmatch"]
    assert all(r["ece"]["n"] == 2 and r["ece_scaled"] is None and r["temperature"] is None for r in fixmatch)
    assert all(r["ece_scaled"] is not None for r in records if r["variant"] != "fixmatch")
    text = describe(records, {"mlp": "MLP", "cnn": "CNN"}, "en")
    assert any(line.startswith("Calibration, CNN (fixmatch)") for line in text), text
