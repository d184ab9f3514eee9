"""One message catalog for figures, tables and reports: Portuguese (the notebook's) and English."""
from __future__ import annotations

LANGS = ("pt", "en")

CATALOG = {
    "epoch": ("Época", "Epoch"),
    "loss": ("Loss", "Loss"),
    "accuracy": ("Acurácia", "Accuracy"),
    "train": ("treino", "train"),
    "val": ("validação", "validation"),
    "predicted": ("Predito", "Predicted"),
    "true": ("Verdadeiro", "True"),
    "confusion": ("Matriz de confusão", "Confusion matrix"),
    "samples_per_class": ("Amostras por classe (treino + validação)", "Samples per class (train + validation)"),
    "test_acc": ("Acurácia de teste", "Test accuracy"),
    "learning_curve": ("Acurácia de teste vs. orçamento de dados", "Test accuracy vs. data budget"),
    "gap": ("Gap de generalização (treino − validação)", "Generalization gap (train − val)"),
    "gap_title": ("Gap de generalização na melhor época", "Generalization gap at the best epoch"),
    "stop_epoch": ("Época de parada (early stopping)", "Early-stopping epoch"),
    "stop_title": ("Épocas até o early stopping", "Epochs until early stopping"),
    "mean_curves": ("Loss média (treino/validação) — {n} por classe",
                    "Mean train/val loss — {n} per class"),
    "params": ("parâmetros", "parameters"),
    "ci95": ("IC 95%", "95% CI"),
    "noise_level": ("Fração de pixels sal-pimenta no teste", "Salt-and-pepper fraction at test time"),
    "noise_title": ("Robustez a ruído sal-pimenta", "Robustness to salt-and-pepper noise"),
    "shift_level": ("Deslocamento no teste (pixels)", "Test-time shift (pixels)"),
    "shift_title": ("Robustez a deslocamentos", "Robustness to shifts"),
    "trained_clean": ("treinado limpo", "trained clean"),
    "trained_noisy": ("treinado com ruído {v}", "trained with noise {v}"),
    "trained_aug": ("treinado com aumento", "trained with augmentation"),
    "class_freq": ("Exemplos de treino da classe", "Training examples of the class"),
    "per_class_title": ("Recall por classe vs. frequência — {model}", "Per-class recall vs. frequency — {model}"),
    "recall": ("Recall", "Recall"),
    "tsne_title": ("t-SNE das features — {model}", "t-SNE of features — {model}"),
    "gradcam_title": ("Grad-CAM — {model}", "Grad-CAM — {model}"),
    "saliency_title": ("Saliência (gradiente) — {model}", "Gradient saliency — {model}"),
    "misclassified_title": ("Erros mais confiantes — {model}", "Most confident errors — {model}"),
    "true_pred": ("V:{t} P:{p}", "T:{t} P:{p}"),
    "model": ("modelo", "model"),
    "budget": ("orçamento", "budget"),
    "mean": ("média", "mean"),
    "std": ("desvio", "std"),
    "n_runs": ("n", "n"),
    "difference": ("diferença CNN − MLP", "difference CNN − MLP"),
}


def t(key: str, lang: str = "pt", **kwargs) -> str:
    """The message `key` in `lang`, formatted with kwargs."""
    text = CATALOG[key][LANGS.index(lang)]
    return text.format(**kwargs) if kwargs else text
