"""The run's metrics equal scikit-learn's: report text and dict, confusion matrix, balanced accuracy, macro-F1."""
import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, classification_report, confusion_matrix, f1_score

from mnistlab.runs.metrics import classification_metrics


@pytest.mark.parametrize("case", ["random", "skilled", "class-never-predicted", "all-one-class"])
def test_metrics_match_scikit_learn(case):
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 10, 10_000)
    y_pred = {"random": rng.integers(0, 10, 10_000),
              "skilled": np.where(rng.random(10_000) < 0.93, y_true, rng.integers(0, 10, 10_000)),
              "class-never-predicted": np.where(y_true == 3, 5, y_true),
              "all-one-class": np.zeros(10_000, dtype=int)}[case]
    labels = list(range(10))
    ours = classification_metrics(y_true, y_pred, 10)
    assert ours.report_text == classification_report(y_true, y_pred, labels=labels, digits=4, zero_division=0)
    assert ours.report == classification_report(y_true, y_pred, labels=labels, digits=4, output_dict=True,
                                                zero_division=0)
    assert ours.confusion == confusion_matrix(y_true, y_pred, labels=labels).tolist()
    assert ours.balanced_acc == balanced_accuracy_score(y_true, y_pred)
    assert ours.macro_f1 == f1_score(y_true, y_pred, average="macro", labels=labels, zero_division=0)
