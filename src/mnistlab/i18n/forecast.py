"""The forecast's words (sweeps/forecast/words.py), pt and en, merged into the one catalog."""

MESSAGES = {
    "fc_reaches": ("{label} ({variant}): atinge {target} com ~{n} por classe {ci} ({form}; erro fora da amostra {err} "
                   "pp contra {last1} pp do last1).",
                   "{label} ({variant}): reaches {target} at ~{n} per class {ci} ({form}; held-out error {err} pp vs "
                   "last1's {last1} pp)."),
    "fc_out_of_reach": ("{label} ({variant}): teto ajustado {ceiling} {ci}: {target} está fora do alcance "
                        "({share} das reamostragens nunca o atingem).",
                        "{label} ({variant}): fitted ceiling {ceiling} {ci}: {target} is out of reach for it "
                        "({share} of resamples never reach it)."),
    "fc_open_high": ("{low}, não atingido em {share} das reamostragens", "{low}, not reached in {share} of resamples"),
    "fc_ceiling": ("{label} ({variant}): teto ajustado {ceiling} {ci}; dobrar o maior orçamento ({n} → {n2} por "
                   "classe) ganha {gain} pp {gci} ({form}; erro fora da amostra {err} pp contra {last1} pp do last1).",
                   "{label} ({variant}): fitted ceiling {ceiling} {ci}; doubling the largest budget ({n} → {n2} per "
                   "class) gains {gain} pp {gci} ({form}; held-out error {err} pp vs last1's {last1} pp)."),
    "fc_no_form": ("{label} ({variant}): curva insuficiente para extrapolar: nenhuma forma superou o last1 nos "
                   "orçamentos retidos ({held}; melhor {best}, contra {last1} pp do last1); o maior orçamento medido, "
                   "{n} por classe, dá {acc}.",
                   "{label} ({variant}): not enough curve to extrapolate: no form beat last1 on the held-out budgets "
                   "({held}; best {best}, vs last1's {last1} pp); the largest budget measured, {n} per class, gives "
                   "{acc}."),
    "fc_one_seed": ("Uma só semente: sem intervalo.", "One seed: no interval."),
    "fc_skipped": ("{label} ({variant}): sem previsão: {why}.", "{label} ({variant}): not forecast: {why}."),
    "fc_resamples": ("Intervalos de {level}% por bootstrap de sementes inteiras ({k} reamostragens, as mesmas para "
                     "todos os modelos); forma escolhida pelo backtest nos maiores orçamentos.",
                     "{level}% intervals by a bootstrap over whole seeds ({k} resamples, the same for every model); "
                     "form chosen by a backtest on the largest budgets."),
    "fc_title": ("Previsão da curva de aprendizado ({variant})", "Learning-curve forecast ({variant})"),
    "fc_fit": ("ajuste {form}", "{form} fit"),
    "cap_forecast": ("Previsão da curva de aprendizado: médias observadas com IC 95%, a forma escolhida pelo "
                     "backtest e sua banda bootstrap até 10× o maior orçamento.",
                     "Learning-curve forecast: observed means with 95% CIs, the form chosen by the backtest and its "
                     "bootstrap band to 10x the largest budget."),
    "fc_target": ("alvo {target}", "target {target}"),
}
