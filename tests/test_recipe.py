"""The training recipe beyond the notebook's method: no early stopping, dropout, weight decay, label smoothing,
the cosine schedule, rotation, and --recipe best; the plain method stays exactly as it was."""
import math

import pytest
import torch

from helpers import step_together
from mnistlab.cli.main import main
from mnistlab.config import RECIPES, RunConfig
from mnistlab.data.corrupt import random_affine
from mnistlab.data.resident import Split
from mnistlab.models import MLP, SmallCNN
from mnistlab.models.registry import build_model
from mnistlab.training.engine import EpochBook, EpochRecord
from mnistlab.training.optim import Adam, lr_at
from mnistlab.training.solo import fit


def test_dropout_adds_no_parameter_and_moves_no_key_and_is_off_in_eval():
    for plain, dropped in ((MLP(), MLP(dropout=0.5)), (SmallCNN(), SmallCNN(dropout=0.5))):
        assert list(plain.state_dict()) == list(dropped.state_dict())
        assert [p.shape for p in plain.parameters()] == [p.shape for p in dropped.parameters()]
        dropped.load_state_dict(plain.state_dict())
        x = torch.rand(8, 1, 28, 28)
        plain.eval(), dropped.eval()
        assert torch.equal(plain(x), dropped(x))  # evaluation: no dropout
        dropped.train()
        torch.manual_seed(0)
        a = dropped(x)
        torch.manual_seed(1)
        assert not torch.equal(a, dropped(x))  # training: masks drawn from the generator


def test_recipe_keeps_the_notebooks_parameter_counts():
    cfg = RunConfig(**RECIPES["best"])
    assert sum(p.numel() for p in build_model(cfg.with_(model="mlp")).parameters()) == 269_322
    assert sum(p.numel() for p in build_model(cfg.with_(model="cnn")).parameters()) == 206_922


def test_weight_decay_is_adamw():
    torch.manual_seed(0)
    a, b = MLP(hidden=32), MLP(hidden=32)
    b.load_state_dict(a.state_dict())
    ours = Adam(a.parameters(), lr=1e-2, weight_decay=0.1)
    theirs = torch.optim.AdamW(b.parameters(), lr=1e-2, weight_decay=0.1)
    step_together([(a, ours), (b, theirs)])
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_cosine_schedule_runs_from_lr_down_towards_zero():
    cfg = RunConfig(lr=1e-3, epochs=10, schedule="cosine")
    rates = [lr_at(cfg, e, cfg.epochs) for e in range(1, 11)]
    assert rates[0] == pytest.approx(1e-3) and all(a > b for a, b in zip(rates, rates[1:])) and rates[-1] < 3e-5
    assert lr_at(RunConfig(lr=1e-3), 7, 30) == 1e-3


def test_rotation_by_a_quarter_turn_matches_rot90_and_no_rotation_keeps_earlier_draws():
    x = torch.zeros(1, 1, 28, 28)
    x[0, 0, 4:10, 12:16] = 1.0
    # Rotation only (shift 0, zoom 1): force the drawn angle to +90 degrees through the uniform draw u = 1.
    from mnistlab.data.corrupt import _warp

    turned = _warp(x, torch.ones(1), torch.zeros(1), torch.zeros(1), torch.tensor([math.pi / 2]))
    assert torch.allclose(turned, torch.rot90(x, 1, dims=(2, 3)), atol=1e-5) or \
        torch.allclose(turned, torch.rot90(x, -1, dims=(2, 3)), atol=1e-5)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    imgs = torch.rand(4, 1, 28, 28)
    assert torch.equal(random_affine(imgs, 2.0, 0.1, g1), random_affine(imgs, 2.0, 0.1, g2, rotate=0.0))


def test_engine_without_early_stopping_runs_every_epoch_and_keeps_the_last():
    book = EpochBook(patience=1, min_delta=0.0, early_stopping=False)
    for epoch in range(1, 6):
        assert book.record(EpochRecord(epoch, 1.0 / epoch, 0.5, None, None), lambda e=epoch: {"w": e})
    assert book.result.best_epoch == 5 and book.kept is None and book.result.last_state is None


def test_engine_keeps_the_last_weights_aside_when_it_restores_an_earlier_epoch():
    book = EpochBook(patience=2, min_delta=0.0)
    for epoch, v in enumerate([1.0, 0.8, 0.9, 0.95], 1):
        if not book.record(EpochRecord(epoch, 1.0, 0.5, v, 0.5), lambda e=epoch: {"w": e}):
            break
    assert book.result.best_epoch == 2 and book.result.last_state == {"w": 4}


def test_fit_without_validation_trains_all_epochs_and_is_seeded():
    x, y = torch.rand(40, 1, 28, 28), torch.arange(40) % 10
    empty = x[:0], y[:0]
    cfg = RunConfig(epochs=4, batch_size=8, early_stopping=False, dropout=0.3, label_smoothing=0.1,
                    weight_decay=1e-3, schedule="cosine")
    runs = []
    for _ in range(2):
        model = build_model(cfg)
        result = fit(model, Split(x, y, *empty, None), cfg)
        runs.append((result, [p.detach().clone() for p in model.parameters()]))
    (first, w1), (second, w2) = runs
    assert first.epochs_run == 4 and first.best_epoch == 4 and first.history["val_loss"] == [None] * 4
    assert first.history == second.history and all(torch.equal(a, b) for a, b in zip(w1, w2))


def test_recipe_flag_sets_the_recipe_and_an_explicit_flag_wins(tmp_path, capsys, monkeypatch):
    from mnistlab.cli import args as cli_args
    from mnistlab.cli.main import build_parser

    parsed = build_parser().parse_args(["run", "--recipe", "best", "--dropout", "0.4"])
    cfg = cli_args.configs_from_args(parsed)[0]
    assert cfg.dropout == 0.4 and cfg.rotate == RECIPES["best"]["rotate"] and cfg.schedule == "cosine"
    assert cfg.key() != RunConfig().key()
    plain = cli_args.configs_from_args(build_parser().parse_args(["run"]))[0]
    assert plain == RunConfig()


@pytest.mark.parametrize("argv, needle", [
    (["--samples-per-class", "1"], "--no-early-stopping"),
    (["--dropout", "1"], "--dropout 1.0: must be a fraction in [0, 1)"),
    (["--schedule", "linear"], "invalid choice: 'linear'"),
    (["--augment", "rotate=200"], "rotate 200.0: must be in [0, 180] degrees"),
    (["--label-smoothing", "-0.1"], "--label-smoothing -0.1"),
])
def test_bad_recipe_values_one_line_exit_2(argv, needle, tmp_path, capsys):
    assert main(["run", "--quiet", "--epochs", "1", "--out", str(tmp_path / "r"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r").exists()
