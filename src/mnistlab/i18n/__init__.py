"""One message catalog for figures, tables and reports: Portuguese (the notebook's) and English."""
from __future__ import annotations

from mnistlab.i18n.forecast import MESSAGES as FORECAST_MESSAGES
from mnistlab.i18n.selection import MESSAGES as SELECTION_MESSAGES

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
    "labelled_per_class": ("Amostras rotuladas por classe (sem validação)",
                           "Labelled samples per class (no validation)"),
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
    "variant": ("variante", "variant"),
    "epochs": ("épocas", "epochs"),
    "n_steps": ("{n} passos", "{n} steps"),
    "best_epoch": ("melhor época", "best epoch"),
    "budget": ("orçamento", "budget"),
    "mean": ("média", "mean"),
    "std": ("desvio", "std"),
    "n_runs": ("n", "n"),
    # report
    "report_title": ("{models} no {dataset} com poucos dados", "{models} on {dataset} with little data"),
    "versus": (" × ", " vs "),
    "report_run": ("Relatório de uma execução", "Report of one run"),
    "report_sweep": ("Relatório de uma varredura", "Report of a sweep"),
    "sec_config": ("Configuração", "Configuration"),
    "sec_results": ("Resultados", "Results"),
    "sec_findings": ("Conclusões", "Findings"),
    "sec_figures": ("Figuras", "Figures"),
    "partial": ("RESULTADOS PARCIAIS: {detail}. Os números abaixo cobrem só as execuções terminadas.",
                "PARTIAL RESULTS: {detail}. The numbers below cover finished runs only."),
    "mixed_store": ("ARMAZENAMENTO MISTO: as execuções vêm de {k} versões de código ou configurações diferentes "
                    "(retomado com --allow-mixed); médias e testes misturam-nas.",
                    "MIXED STORE: the runs come from {k} different code versions or settings (resumed with "
                    "--allow-mixed); means and tests pool them."),
    "cap_curves_loss": ("Loss de treino e validação por época — {model}.",
                        "Train and validation loss per epoch — {model}."),
    "cap_curves_acc": ("Acurácia de treino e validação por época — {model}.",
                       "Train and validation accuracy per epoch — {model}."),
    "cap_cm": ("Matriz de confusão no conjunto de teste — {model}.", "Confusion matrix on the test set — {model}."),
    "cap_learning_curve": ("Acurácia de teste vs. amostras por classe: média sobre sementes e IC 95%.",
                           "Test accuracy vs. samples per class: mean over seeds and 95% CI."),
    "model_gap": ("Diferença de acurácia de teste", "Test accuracy difference"),
    "model_gap_title": ("Diferença entre os modelos, pareada por semente",
                        "Difference between the models, paired by seed"),
    "cap_model_gap": ("Acurácia de teste do segundo modelo menos a do primeiro, pareada por semente: média e IC 95%.",
                      "Test accuracy of the second model minus the first's, paired by seed: mean and 95% CI."),
    "gain_title": ("{variant} menos {reference}, pareado por semente", "{variant} minus {reference}, paired by seed"),
    "cap_gain": ("Acurácia de teste de uma variante menos a de referência (mesmo modelo, mesma semente): média e "
                 "IC 95%.", "Test accuracy of one variant minus the reference's (same model, same seed): mean and "
                 "95% CI."),
    "cap_gap_vs_budget": ("Gap de generalização (treino − validação na melhor época) vs. orçamento.",
                          "Generalization gap (train − validation at the best epoch) vs. budget."),
    "cap_stop_epoch_vs_budget": ("Épocas até o early stopping vs. orçamento.",
                                 "Epochs until early stopping vs. budget."),
    "cap_loss_curves": ("Loss média de treino e validação sobre as sementes, {n} por classe.",
                        "Mean train and validation loss over seeds, {n} per class."),
    "cap_other": ("{name}.", "{name}."),
    "cap_reliability": ("Diagrama de confiabilidade ({name}): acurácia por faixa de confiança, sem ajuste e com "
                        "temperatura; a diagonal é a calibração perfeita.",
                        "Reliability diagram ({name}): accuracy per confidence bin, as trained and "
                        "temperature-scaled; the diagonal is perfect calibration."),
    "run_finding": ("Com {spc} amostras por classe (semente {seed}), a {best} atingiu {best_acc} de acurácia de teste "
                    "contra {worst_acc} da {worst} ({diff} pp).",
                    "With {spc} samples per class (seed {seed}), the {best} reached {best_acc} test accuracy "
                    "against {worst_acc} for the {worst} ({diff} pp)."),
    "run_stops": ("Treino: {items}.", "Training: {items}."),
    "run_stopped": ("o early stopping parou a {model} na época {ep} de {max} e restaurou os pesos da melhor época "
                    "({best})", "early stopping ended the {model} at epoch {ep} of {max} and restored the weights "
                    "of its best epoch ({best})"),
    "run_all_epochs": ("a {model} treinou todas as {ep} épocas sem o early stopping parar (melhor época {best}, "
                       "pesos restaurados)", "the {model} trained all {ep} epochs without early stopping ending it "
                       "(best epoch {best}, weights restored)"),
    "run_no_stopping": ("a {model} treinou as {ep} épocas sem early stopping (pesos da última época)",
                        "the {model} trained its {ep} epochs without early stopping (last epoch's weights)"),
    "run_steps": ("a {model} treinou {steps} passos com {unlabeled} imagens não rotuladas (pesos da média móvel)",
                  "the {model} trained {steps} steps with {unlabeled} unlabelled images (moving-average weights)"),
    "setting": ("parâmetro", "setting"),
    # What the commands print while they work, in the command's language.
    "same_key": ("{out}: já está lá (mesma chave); mantida como está, saídas de explain e report incluídas "
                 "(--overwrite treina de novo)", "{out}: already there (same key); kept as it is, explain and report "
                 "outputs included (--overwrite retrains it)"),
    "model_done": ("[{label}] {how}; test_acc={acc}", "[{label}] {how}; test_acc={acc}"),
    "model_diverged": ("[{label}] DIVERGIU: {message}; test_acc={acc}",
                       "[{label}] DIVERGED: {message}; test_acc={acc}"),
    "epoch_line": ("[{label}] época {epoch:02d} | train_loss={loss} acc={acc} | {val}",
                   "[{label}] epoch {epoch:02d} | train_loss={loss} acc={acc} | {val}"),
    "no_validation": ("sem validação", "no validation"),
    "step_line": ("[{label}] passo {step}/{steps} | loss={loss} acc. rotuladas={acc} | não rotuladas confiantes "
                  "{rate}%", "[{label}] step {step}/{steps} | loss={loss} labelled acc={acc} | confident unlabelled "
                  "{rate}%"),
    "results_in": ("resultados em {out}/ (resultados.csv, results.json, figures/, *.safetensors)",
                   "results in {out}/ (resultados.csv, results.json, figures/, *.safetensors)"),
    "sweep_stopped_early": ("interrompida: {n} execuções terminadas agora; retome com `mnistlab sweep --out {out}`",
                            "interrupted: {n} runs finished now; resume with `mnistlab sweep --out {out}`"),
    "sweep_stopped": ("interrompida: {done} de {total} execuções feitas e guardadas; retome com `mnistlab sweep "
                      "--out {out}`", "interrupted: {done} of {total} runs are done and stored; resume with "
                      "`mnistlab sweep --out {out}`"),
    "sweep_mixed": ("nota: {out} agora guarda resultados de outro código ou configuração (--allow-mixed); o resumo "
                    "o diz", "note: {out} now holds results of different code or settings (--allow-mixed); the "
                    "summary says so"),
    "sweep_counts": ("{total} execuções: {skipped} já no armazenamento, {finished} feitas agora, {failed} com falha",
                     "{total} runs: {skipped} already in the store, {finished} run now, {failed} failed"),
    "sweep_failed": ("  falhou {run}: {message}", "  failed {run}: {message}"),
    "sweep_partial": ("parcial: o armazenamento tem execuções não terminadas ({counts})",
                      "partial: the store holds runs not finished ({counts})"),
    "sweep_nodes": ("as execuções vieram de {n} máquinas (nós do Ray; summary.json → nodes)",
                    "the runs came from {n} machines (Ray nodes; summary.json → nodes)"),
    "sweep_mixed_label": ("misto", "mixed"),
    "written_under": ("tabelas, figuras e CSV escritos em {folder}/",
                      "tables, figures and CSV written under {folder}/"),
    "report_html": ("HTML:  {path} (autocontido, figuras embutidas)", "HTML:  {path} (self-contained, figures "
                    "embedded)"),
    "not_compiled": (" (não compilado)", " (not compiled)"),
    "explain_knn": ("{label}: acurácia 10-NN no espaço de features {knn}, silhueta {sil} (camada {layer}, {dims} "
                    "dimensões; t-SNE+métricas {secs}s)", "{label}: 10-NN accuracy in feature space {knn}, "
                    "silhouette {sil} ({layer} layer, {dims} dims; t-SNE+metrics {secs}s)"),
    "explain_mass": ("{label}: {share}% da massa de {method} está sobre o dígito ou junto dele, que cobre {area}% "
                     "da imagem", "{label}: {share}% of the {method} mass lies on or next to the digit, which covers "
                     "{area}% of the image"),
    "saliency_word": ("saliência", "saliency"),
    "explain_written": ("figuras em {folder}/figures/, números em {folder}/explain.json",
                        "figures in {folder}/figures/, numbers in {folder}/explain.json"),
    "per_class": ("por classe", "per class"),
    "best_val_acc": ("Melhor acurácia de validação", "Best validation accuracy"),
    "train_s": ("s de treino/execução", "train s/run"),
    "over_seeds": ("{folder} — acurácia de teste sobre as sementes", "{folder} — test accuracy over seeds"),
    "value": ("valor", "value"),
    "sweep_finding": ("Com {spc} amostras por classe{variant}, a {lead} fica à frente por {diff} pp "
                      "(IC 95% [{low}; {high}], {n} sementes; t pareado p={tp}, Wilcoxon p={wp}){sure}.",
                      "At {spc} samples per class{variant}, the {lead} is ahead by {diff} pp "
                      "(95% CI [{low}, {high}], {n} seeds; paired t p={tp}, Wilcoxon p={wp}){sure}."),
    "sweep_finding_single": ("Com {spc} amostras por classe{variant}, a {lead} fica à frente por {diff} pp, com uma "
                             "só semente: sem intervalo nem teste.",
                             "At {spc} samples per class{variant}, the {lead} is ahead by {diff} pp from a single "
                             "seed: no interval or test possible."),
    "sweep_finding_pair": ("Com {spc} amostras por classe{variant}, a {lead} fica à frente da {other} por {diff} pp "
                           "(IC 95% [{low}; {high}], {n} sementes; t pareado p={tp}, Wilcoxon p={wp}){sure}.",
                           "At {spc} samples per class{variant}, the {lead} is ahead of the {other} by {diff} pp "
                           "(95% CI [{low}, {high}], {n} seeds; paired t p={tp}, Wilcoxon p={wp}){sure}."),
    "holm_note": ("; valores p ajustados por Holm sobre os {k} pares de modelos deste orçamento",
                  "; p-values Holm-adjusted over the {k} model pairs at this budget"),
    "wilcoxon_floor": (" (com {n} pares, o Wilcoxon não desce abaixo de p={p})",
                       " (with {n} pairs Wilcoxon cannot go below p={p})"),
    "ci_excludes": ("; o intervalo exclui zero", "; the interval excludes zero"),
    "ci_includes": ("; o intervalo inclui zero, então a diferença não é conclusiva",
                    "; the interval includes zero, so the difference is not conclusive"),
    # The questions of sweeps/questions.py, in words.
    "nc": ("não conclusivo", "not conclusive"),
    "q_overfit": ("Sobreajuste, {label}: a diferença entre acurácia de treino e de validação na melhor época é "
                  "{items}.",
                  "Overfitting, {label}: the gap between training and validation accuracy at the best epoch is "
                  "{items}."),
    "q_overfit_trend": (" Por década de dados (inclinação sobre log10 do orçamento, {n} execuções) ela varia "
                        "{slope} pp (IC 95% [{low}; {high}]){sure}.",
                        " Per tenfold more data (slope on log10 of the budget, {n} runs) it changes by {slope} pp "
                        "(95% CI [{low}, {high}]){sure}."),
    "q_at": ("{value} com {spc} por classe", "{value} at {spc} per class"),
    "q_early": ("Parada antecipada, {label}: {items}.", "Early stopping, {label}: {items}."),
    "q_early_item": ("com {spc} por classe parou na época {stop} em média (melhor época {best}; {k} de {n} antes do "
                     "limite){gain}",
                     "at {spc} per class it stopped at epoch {stop} on average (best epoch {best}; {k} of {n} before "
                     "the limit){gain}"),
    "q_early_gain": (", e os pesos restaurados diferem dos da última época em {value} de acurácia de teste",
                     ", and the restored weights differ from the last epoch's by {value} of test accuracy"),
    "q_valtest": ("Validação vs teste, {label}: a melhor acurácia de validação menos a de teste é {items}.",
                  "Validation vs test, {label}: best validation accuracy minus test accuracy is {items}."),
    "q_valtest_r": (" (r de Pearson entre as execuções: {r})", " (Pearson's r across runs: {r})"),
    "q_study": ("Estudo de {kind}, {label} com {spc} por classe: {variant} menos {reference}, pareado por semente, "
                "{items} (p do teste t ajustados por Holm sobre os {k} níveis).",
                "{kind} study, {label} at {spc} per class: {variant} minus {reference}, paired by seed, {items} "
                "(t-test p-values Holm-adjusted over the {k} levels)."),
    "q_level": ("{value} no nível de teste {level} (p={p})", "{value} at test level {level} (p={p})"),
    "q_imbalance": ("Desbalanceamento, {label} com {spc} por classe: o remédio {remedy} muda a acurácia balanceada "
                    "em {balanced} e o recall da classe mais rara em {rare}, pareado por semente com nenhum remédio.",
                    "Imbalance, {label} at {spc} per class: the {remedy} remedy changes balanced accuracy by "
                    "{balanced} and the rarest class's recall by {rare}, paired by seed against no remedy."),
    "q_semi_gain": ("Semi-supervisionado, {label} com {spc} rotuladas por classe, pareado por semente: {items}.",
                    "Semi-supervised, {label} at {spc} labelled per class, paired by seed: {items}."),
    "q_semi_item": ("{variant} menos {reference} {value}", "{variant} minus {reference} {value}"),
    "q_semi_gap": ("Diferença {cnn} − {mlp} com {spc} rotuladas por classe, pareada por semente: {items}.",
                   "{cnn} − {mlp} gap at {spc} labelled per class, paired by seed: {items}."),
    "q_semi_gap_item": ("{variant} {value}", "{variant} {value}"),
    "coverage_title": ("Cobertura dos pseudo-rótulos — {model}, {n} por classe",
                       "Pseudo-label coverage — {model}, {n} per class"),
    "coverage_y": ("Não rotuladas acima do limiar de confiança (%)", "Unlabelled above the confidence threshold (%)"),
    "step": ("Passo de otimização", "Optimizer step"),
    "kind_noise": ("ruído", "Noise"),
    "kind_shift": ("deslocamento", "Shift"),
    "cal_line": ("Calibração, {label} com {spc} por classe ({n} sementes): ECE {ece}%, NLL {nll}, confiança média "
                 "menos acurácia {over} pp{after}.",
                 "Calibration, {label} at {spc} per class ({n} seeds): ECE {ece}%, NLL {nll}, mean confidence minus "
                 "accuracy {over} pp{after}."),
    "cal_after": ("; com a temperatura ajustada na validação (T={temp}): ECE {ece}%, NLL {nll}",
                  "; with the temperature fitted on validation (T={temp}): ECE {ece}%, NLL {nll}"),
    "cal_compare": ("Com {spc} por classe, o modelo mais confiante demais é o {label} ({over} pp acima da sua "
                    "acurácia); com {high} por classe, {over_high} pp.",
                    "At {spc} per class the most overconfident model is the {label} ({over} pp above its accuracy); "
                    "at {high} per class, {over_high} pp."),
    "reliability_title": ("{label}, {spc} por classe: confiabilidade", "{label}, {spc} per class: reliability"),
    "confidence": ("confiança", "confidence"),
    "scaled": ("com temperatura", "temperature-scaled"),
    "unscaled": ("sem ajuste", "as trained"),
    # The answer tables of sweeps/answer_tables.py: titles, columns and the caveats said once under a table.
    "tab_comparisons": ("Modelos comparados", "Models compared"), "pair": ("par", "pair"),
    "ttest_p": ("p (t pareado)", "p (paired t)"), "wilcoxon_p": ("p (Wilcoxon)", "p (Wilcoxon)"),
    "tab_gains": ("Ganho de cada variante", "Each variant's gain"), "col_reference": ("referência", "reference"),
    "tab_semi_gap": ("Diferença entre os modelos em cada variante", "The models' difference under each variant"),
    "tab_overfitting": ("Sobreajuste", "Overfitting"), "tab_early": ("Early stopping", "Early stopping"),
    "col_stop": ("época de parada", "stop epoch"), "col_best": ("melhor época", "best epoch"),
    "col_early": ("parou antes do limite", "stopped before the limit"),
    "col_restored": ("restaurada − última", "restored − last"),
    "tab_valtest": ("Validação vs teste", "Validation vs test"),
    "gap_note": ("Acurácia de treino menos a de validação na melhor época, em pp.",
                 "Training minus validation accuracy at the best epoch, in pp."),
    "valtest_note": ("Melhor acurácia de validação menos a de teste, em pp; r: correlação de Pearson entre as duas "
                     "sobre as sementes.", "Best validation accuracy minus test accuracy, in pp; r: Pearson's "
                     "correlation of the two across seeds."),
    "note_paired": ("Diferenças pareadas por semente: média e IC 95% (t).",
                    "Differences paired by seed: mean and 95% CI (t)."),
    "note_wilcoxon": ("Com {n} pares, o Wilcoxon não desce abaixo de p={p}.",
                      "With {n} pairs Wilcoxon cannot go below p={p}."),
    "note_holm": ("Valores p ajustados por Holm sobre os {k} pares de modelos de cada orçamento.",
                  "p-values Holm-adjusted over the {k} model pairs of each budget."),
    "note_trend": ("Por dez vezes mais dados (inclinação em log10 do orçamento): {items}.",
                   "Per tenfold more data (slope on log10 of the budget): {items}."),
    "note_early": ("Restaurada − última: acurácia de teste dos pesos da melhor época menos a dos da última, em pp.",
                   "Restored − last: test accuracy of the best epoch's weights minus the last epoch's, in pp."),
    "note_holds_zero": ("* o intervalo contém zero: não conclusivo.", "* the interval holds zero: not conclusive."),
    **FORECAST_MESSAGES,  # the forecast's words, in their own file
    **SELECTION_MESSAGES,
}


MINUS = "\u2212"  # one minus sign in every output, never the hyphen


def default_lang() -> str:
    """The user's language from the locale, as gettext reads it: pt when LC_ALL, LC_MESSAGES or LANG (the first
    set) starts with pt, else en."""
    import os

    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            return "pt" if value.lower().startswith("pt") else "en"
    return "en"


def number(value: float | None, lang: str = "pt", digits: int = 2) -> str:
    """A decimal number as each language writes it: 96,36 in pt, 96.36 in en, −1.20 with a true minus sign;
    a dash for no value."""
    if value is None:
        return "–"
    text = f"{value:.{digits}f}".replace("-", MINUS)
    return text.replace(".", ",") if lang == "pt" else text


def integer(value: int, lang: str = "pt") -> str:
    """A count with thousands grouped as each language writes it: 269.322 in pt, 269,322 in en."""
    return f"{value:,}".replace(",", "." if lang == "pt" else ",")


def signed(value: float, lang: str = "pt", digits: int = 2) -> str:
    """A difference with its sign always shown: +1,20 / −1,20 (pt), +1.20 / −1.20 (en)."""
    value += 0.0  # -0.0 becomes 0.0: no "+−0"
    return ("+" if value >= 0 else "") + number(value, lang, digits)


def interval(low: float, high: float, lang: str = "pt", digits: int = 2) -> str:
    """[1.20, 3.40] in en; [1,20; 3,40] in pt, where the comma is the decimal mark."""
    return f"[{number(low, lang, digits)}{'; ' if lang == 'pt' else ', '}{number(high, lang, digits)}]"


def pvalue(p: float, lang: str = "pt") -> str:
    """A p-value to three significant digits, written like every other number of that language."""
    text = f"{p:.3g}".replace("-", MINUS)
    return text.replace(".", ",") if lang == "pt" else text


def t(key: str, lang: str = "pt", **kwargs) -> str:
    """The message `key` in `lang`, formatted with kwargs."""
    text = CATALOG[key][LANGS.index(lang)]
    return text.format(**kwargs) if kwargs else text
