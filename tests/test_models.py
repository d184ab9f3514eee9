import torch

from mnistlab.config import RunConfig
from mnistlab.models.notebook import MLP, SmallCNN, build_model, count_params, train_flops_per_sample


def test_parameter_counts_match_the_notebook():
    assert count_params(MLP()) == 269_322
    assert count_params(SmallCNN()) == 206_922


def test_sizes_are_configurable():
    assert count_params(build_model(RunConfig(model="mlp", mlp_hidden=32))) == 784 * 32 + 32 + 32 * 32 + 32 + 330
    small = build_model(RunConfig(model="cnn", cnn_c1=4, cnn_c2=8, cnn_fc=16))
    assert small(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_forward_and_features_shapes():
    x = torch.randn(5, 1, 28, 28)
    mlp, cnn = MLP(), SmallCNN()
    assert mlp(x).shape == cnn(x).shape == (5, 10)
    assert mlp.features(x).shape == (5, 256) and mlp.features(x, "first").shape == (5, 256)
    assert cnn.features(x).shape == (5, 128)
    assert torch.allclose(cnn.fc2(cnn.features(x)), cnn(x))


def test_init_is_seeded_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = build_model(RunConfig(model="cnn", seed=4))
    assert torch.rand(1) == before  # the global stream did not move
    b = build_model(RunConfig(model="cnn", seed=4))
    c = build_model(RunConfig(model="cnn", seed=5))
    assert torch.equal(a.conv1.weight, b.conv1.weight) and not torch.equal(a.conv1.weight, c.conv1.weight)


def test_flop_estimates_match_the_issue():
    assert round(train_flops_per_sample(RunConfig(model="mlp")) / 1e6, 2) == 1.61
    assert round(train_flops_per_sample(RunConfig(model="cnn")) / 1e6, 2) == 7.31


def test_pool_then_relu_equals_the_notebooks_relu_then_pool(monkeypatch):
    import torch.nn.functional as F

    from mnistlab.kernels import fused

    cnn = SmallCNN()
    x = torch.randn(16, 1, 28, 28)
    a = cnn.pool(F.relu(cnn.conv1(x)))
    a = cnn.pool(F.relu(cnn.conv2(a)))
    notebook = cnn.fc2(F.relu(cnn.fc1(torch.flatten(a, 1))))
    # the fused first layer sums the convolution in another order: equal up to rounding
    assert torch.allclose(cnn(x), notebook, rtol=1e-5, atol=1e-6)
    # with conv1 run by torch, identical bit for bit (pool_relu's kernel is exact)
    monkeypatch.setattr(fused, "_conv_applies", lambda x, conv: False)
    assert torch.equal(cnn(x), notebook)
