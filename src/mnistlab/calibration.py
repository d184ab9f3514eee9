"""Calibration of a classifier's probabilities: ECE (15 equal-width bins), NLL, reliability bins, temperature.

By hand on NumPy: each is a few lines, and the libraries that have them (torchmetrics, netcal) would be a
dependency for five lines. Logits travel as float16 in base64 (200 KB for MNIST's 10,000 test images).
"""
from __future__ import annotations

import base64
import math

import numpy as np

BINS = 15  # the usual choice since Guo et al. 2017, "On Calibration of Modern Neural Networks"


def log_softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of the true class."""
    logp = log_softmax(logits, temperature)
    return float(-logp[np.arange(len(labels)), labels].mean())


def reliability(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0, bins: int = BINS) -> dict:
    """Per equal-width confidence bin: how many predictions, their summed confidence, how many were right."""
    probs = np.exp(log_softmax(logits, temperature))
    confidence, predicted = probs.max(axis=1), probs.argmax(axis=1)
    which = np.minimum((confidence * bins).astype(int), bins - 1)  # confidence 1.0 falls in the last bin
    return {"count": np.bincount(which, minlength=bins).tolist(),
            "confidence": np.bincount(which, weights=confidence, minlength=bins).tolist(),
            "correct": np.bincount(which, weights=(predicted == labels), minlength=bins).tolist()}


def ece_of_bins(bins: dict) -> float:
    """Expected calibration error: the count-weighted mean |accuracy - confidence| over the bins."""
    count = np.asarray(bins["count"], dtype=float)
    if count.sum() == 0:
        return math.nan
    gap = np.abs(np.asarray(bins["correct"]) - np.asarray(bins["confidence"]))  # summed per bin
    return float(gap.sum() / count.sum())


def ece(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0, bins: int = BINS) -> float:
    return ece_of_bins(reliability(logits, labels, temperature, bins))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T > 0 minimizing the NLL of softmax(logits / T), searched on log T in [-4, 4]."""
    from scipy.optimize import minimize_scalar

    found = minimize_scalar(lambda log_t: nll(logits, labels, math.exp(log_t)), bounds=(-4.0, 4.0), method="bounded",
                            options={"xatol": 1e-4})
    return float(math.exp(found.x))


def encode(logits: np.ndarray, labels: np.ndarray, temperature: float | None) -> dict:
    """What a run stores for calibration: its test logits (float16) and labels (uint8), base64, and T."""
    return {"temperature": temperature, "num_classes": int(logits.shape[1]),
            "test_logits": base64.b64encode(np.asarray(logits, dtype="<f2").tobytes()).decode("ascii"),
            "test_labels": base64.b64encode(np.asarray(labels, dtype=np.uint8).tobytes()).decode("ascii")}


def decode(stored: dict) -> tuple[np.ndarray, np.ndarray, float | None]:
    """(logits, labels, temperature) back from encode()'s dict."""
    logits = np.frombuffer(base64.b64decode(stored["test_logits"]), dtype="<f2").astype(np.float32)
    labels = np.frombuffer(base64.b64decode(stored["test_labels"]), dtype=np.uint8).astype(np.int64)
    return logits.reshape(len(labels), stored["num_classes"]), labels, stored.get("temperature")


def summary(logits: np.ndarray, labels: np.ndarray, temperature: float | None) -> dict:
    """ECE, NLL and the bins before and (when a temperature was fitted) after temperature scaling."""
    bins = reliability(logits, labels)
    out = {"ece": ece_of_bins(bins), "nll": nll(logits, labels), "bins": bins, "temperature": temperature,
           "ece_scaled": None, "nll_scaled": None, "bins_scaled": None}
    if temperature is not None:
        scaled = reliability(logits, labels, temperature)
        out.update(ece_scaled=ece_of_bins(scaled), nll_scaled=nll(logits, labels, temperature), bins_scaled=scaled)
    return out
