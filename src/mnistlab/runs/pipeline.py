"""One job end to end: data split -> model -> fit -> evaluate -> Outcome. Every executor calls this."""
from __future__ import annotations

import math
import time
from contextlib import nullcontext

import torch

import mnistlab.usercode as usercode
from mnistlab.calibration import encode, fit_temperature
from mnistlab.config import class_counts
from mnistlab.data.corrupt import fixed_shift, salt_and_pepper
from mnistlab.data.resident import ResidentData, Split
from mnistlab.models.registry import count_params
from mnistlab.runs.job import Job
from mnistlab.runs.metrics import classification_metrics
from mnistlab.runs.outcome import ModelResult, Outcome
from mnistlab.selection.catalog import select
from mnistlab.training.engine import FitResult, OnEpoch
from mnistlab.training.optim import snapshot
from mnistlab.training.semi.loop import fit_semi
from mnistlab.training.solo import evaluate, fit


def split_of(job: Job, data: ResidentData) -> tuple[Split, float]:
    """The job's labelled split, drawn by its selection rule (the notebook's balanced draw by default), and the
    seconds the rule took (a run's time includes them). A rule is given the training images, never the labels."""
    cfg, rule = job.config, job.plan.rule
    if rule is None:
        return data.split(cfg), 0.0
    start = time.perf_counter()
    chosen = select(rule, data.mnist.train_images.numpy(), sum(class_counts(cfg)), cfg.seed)
    return data.split(cfg, chosen), time.perf_counter() - start


def train(job: Job, data: ResidentData, on_epoch: OnEpoch | None = None) -> tuple[torch.nn.Module, FitResult, Split]:
    """Fit the model a job describes; the model comes back holding the weights the engine kept. Its train_seconds
    include the selection of its labelled images."""
    plan = job.plan  # resolved (and a user's code checked against its recorded hash) before any work
    split, selecting = split_of(job, data)
    model = plan.model.build(job.config).to(data.device)
    if plan.method is not None:
        fitted = fit_semi(model, split, job.config, plan.method, plan.settings, on_epoch)
    else:
        fitted = fit(model, split, job.config, on_epoch)
    fitted.train_seconds += selecting
    return model, fitted, split


def _last_epoch_accuracy(model: torch.nn.Module, fitted: FitResult, data: ResidentData, precision: str,
                         test_acc: float) -> float | None:
    """Test accuracy of the last epoch's weights (what early stopping threw away): one more test pass."""
    if fitted.diverged:
        return None
    if fitted.last_state is None:
        return test_acc  # the kept weights are the last ones
    restored = snapshot(model)
    model.load_state_dict(fitted.last_state)
    try:
        return evaluate(model, data.test_x, data.test_y, precision)[1]
    finally:
        model.load_state_dict(restored)


def _calibration(model: torch.nn.Module, split: Split, logits: torch.Tensor, test_y: torch.Tensor,
                 precision: str) -> dict:
    """The test logits (for calibration at summary level) and a temperature fitted on the validation split."""
    temperature = None
    if len(split.val_y):
        val_logits = evaluate(model, split.val_x, split.val_y, precision, keep_logits=True)[2]
        temperature = fit_temperature(val_logits.cpu().numpy(), split.val_y.cpu().numpy())
    return encode(logits.cpu().numpy(), test_y.cpu().numpy(), temperature)


def assess(job: Job, data: ResidentData, model: torch.nn.Module, fitted: FitResult, split: Split) -> ModelResult:
    """Evaluate a trained model on the test set (clean and corrupted) and gather its ModelResult."""
    cfg, device = job.config, data.device
    start = time.perf_counter()
    test_loss, test_acc, logits = evaluate(model, data.test_x, data.test_y, cfg.precision, keep_logits=True)
    preds = logits.argmax(1)
    robustness: dict[str, dict[str, float]] = {"noise": {}, "shift": {}}
    for kind, levels, corrupt in (("noise", cfg.eval_noise, salt_and_pepper), ("shift", cfg.eval_shift, fixed_shift)):
        for level in levels:
            # The same corrupted test set for every model and seed: seeded by the level alone.
            gen = torch.Generator(device=device).manual_seed(int(level * 1000) + 7)
            x = data.normalize(corrupt(data.test_raw, level, gen))
            robustness[kind][str(level)] = evaluate(model, x, data.test_y, cfg.precision)[1]
    last_test_acc = _last_epoch_accuracy(model, fitted, data, cfg.precision, test_acc)
    calibrated = _calibration(model, split, logits, data.test_y, cfg.precision)
    eval_seconds = time.perf_counter() - start

    metrics = classification_metrics(data.test_y.cpu().numpy(), preds.cpu().numpy(), data.spec.num_classes)
    h = fitted.history
    best = h["epoch"].index(fitted.best_epoch) if fitted.best_epoch in h["epoch"] else 0  # its record's place
    has_val = bool(len(split.val_y))
    return ModelResult(
        model=cfg.model, key=job.key, config=cfg.to_dict(),
        status="diverged" if fitted.diverged else "done", message=fitted.message,
        params=count_params(model), history=h, best_epoch=fitted.best_epoch, epochs_run=fitted.epochs_run,
        best_val_loss=(min((v for v in h["val_loss"] if math.isfinite(v)), default=float("nan"))
                       if has_val else None),
        final_val_acc=h["val_acc"][-1], best_val_acc=h["val_acc"][best],
        gap_at_best=h["train_acc"][best] - h["val_acc"][best] if has_val else None,
        test_loss=test_loss, test_acc=test_acc,
        balanced_acc=metrics.balanced_acc, macro_f1=metrics.macro_f1, confusion=metrics.confusion,
        report=metrics.report, report_text=metrics.report_text,
        train_counts=torch.bincount(split.train_y, minlength=data.spec.num_classes).tolist(),
        robustness=robustness, train_seconds=fitted.train_seconds, eval_seconds=eval_seconds,
        label=job.plan.model.label, last_test_acc=last_test_acc, calibration=calibrated,
        method_label=job.plan.method.label if job.plan.method is not None else "",
    )


def execute(job: Job, data: ResidentData, environment: dict, on_epoch: OnEpoch | None = None) -> Outcome:
    """Train and assess one job; the Outcome carries the trained model too. A user's model trains under the
    user-code guard: whatever it raises or exits with after its first forward pass is one line, never a traceback
    and never the end of a sweep."""
    name = job.config.model
    with usercode.user_code(f"--models {name}: training failed") if usercode.is_spec(name) else nullcontext():
        model, fitted, split = train(job, data, on_epoch)
        result = assess(job, data, model, fitted, split)
    return Outcome(job, result.status, result, result.message, environment, model)
