import pytest
import torch

from mnistlab.config import RunConfig, class_counts
from mnistlab.data.corrupt import fixed_shift, make_augment, random_affine, salt_and_pepper


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("amount", [0.05, 0.1, 0.3])
def test_salt_and_pepper_flips_the_requested_fraction(amount):
    x = torch.full((256, 1, 28, 28), 0.5)
    y = salt_and_pepper(x, amount, gen())
    flipped = (y != 0.5).float().mean().item()
    assert flipped == pytest.approx(amount, abs=0.005)
    salt = (y == 1).float().mean().item()
    assert salt == pytest.approx(amount / 2, abs=0.005)
    assert set(torch.unique(y).tolist()) == {0.0, 0.5, 1.0}


def test_salt_and_pepper_is_seeded_and_fresh_each_call():
    x = torch.rand(8, 1, 28, 28)
    g = gen(3)
    first, second = salt_and_pepper(x, 0.1, g), salt_and_pepper(x, 0.1, g)
    assert not torch.equal(first, second)  # fresh noise every batch / epoch
    assert torch.equal(first, salt_and_pepper(x, 0.1, gen(3)))  # same seed, same noise
    assert torch.equal(salt_and_pepper(x, 0.0, gen()), x)


def center_of_mass(x):
    h = torch.arange(28, dtype=torch.float32)
    mass = x.sum(dim=(1, 2, 3))
    return torch.stack([(x.sum(dim=(1, 2)) * h).sum(-1) / mass, (x.sum(dim=(1, 3)) * h).sum(-1) / mass], 1)


def blob(n=64):
    x = torch.zeros(n, 1, 28, 28)
    x[:, :, 11:17, 11:17] = 1.0
    return x


def test_fixed_shift_moves_by_the_magnitude():
    x = blob()
    moved = center_of_mass(fixed_shift(x, 3.0, gen())) - center_of_mass(x)
    assert torch.allclose(moved.norm(dim=1), torch.full((64,), 3.0), atol=0.05)
    assert torch.equal(fixed_shift(x, 0.0, gen()), x)


def test_random_affine_stays_in_range_and_is_seeded():
    x = blob(512)
    moved = center_of_mass(random_affine(x, 2.0, 0.0, gen())) - center_of_mass(x)
    assert moved.abs().max() <= 2.05 and moved.abs().max() > 1.5  # uses the whole ±2 px range
    assert moved.std(0).min() > 0.8  # U[-2, 2] has sd 1.15
    zoomed = random_affine(x, 0.0, 0.2, gen())
    area_ratio = zoomed.sum(dim=(1, 2, 3)) / x.sum(dim=(1, 2, 3))
    assert area_ratio.min() > 0.8 ** 2 - 0.05 and area_ratio.max() < 1.2 ** 2 + 0.05
    assert torch.equal(random_affine(x, 2.0, 0.1, gen(5)), random_affine(x, 2.0, 0.1, gen(5)))
    assert make_augment(0.0, 0.0, 0.0) is None


@pytest.mark.parametrize("spec,spc", [("reduce:3,5:0.1", 100), ("longtail:0.01", 300)])
def test_imbalanced_split_yields_requested_counts(device_data, spec, spc):
    cfg = RunConfig(samples_per_class=spc, imbalance=spec)
    split = device_data.split(cfg)
    train_y, val_y = split.train_y, split.val_y
    got = (torch.bincount(train_y, minlength=10) + torch.bincount(val_y, minlength=10)).tolist()
    assert got == class_counts(cfg)
    # Validation keeps the class profile: each class contributes its share (rounded).
    assert torch.bincount(val_y, minlength=10).tolist() == [round(0.2 * c) for c in got]
    assert len(device_data.test_y) == 10_000  # the test set is untouched


def test_robustness_at_zero_equals_clean_and_drops_with_noise(device_data):
    from helpers import train_one

    cfg = RunConfig(model="mlp", samples_per_class=50, epochs=5, eval_noise=(0.0, 0.3), eval_shift=(0.0, 4.0))
    result, _ = train_one(cfg, device_data)
    assert result.robustness["noise"]["0.0"] == result.test_acc == result.robustness["shift"]["0.0"]
    assert result.robustness["noise"]["0.3"] < result.test_acc - 0.05
    assert result.robustness["shift"]["4.0"] < result.test_acc - 0.1


def test_remedies_change_training(device_data):
    from helpers import train_one

    base = RunConfig(model="mlp", samples_per_class=100, epochs=4, imbalance="longtail:0.05")
    plain, _ = train_one(base, device_data)
    weighted, _ = train_one(base.with_(remedy="weighted"), device_data)
    over, _ = train_one(base.with_(remedy="oversample"), device_data)
    assert plain.train_counts == weighted.train_counts == over.train_counts
    rare_recall = lambda r: r.report["9"]["recall"]  # noqa: E731 - digit 9 is the rarest
    assert max(rare_recall(weighted), rare_recall(over)) > rare_recall(plain)
