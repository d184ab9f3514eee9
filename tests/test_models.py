import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mnistlab.config import RunConfig
from mnistlab.errors import ConfigError
from mnistlab.models import (
    MLP,
    SmallCNN,
    build_model,
    count_params,
    get_model,
    get_spec,
    list_models,
    model_order,
    register_model,
    train_flops_per_sample,
)
from mnistlab.models.registry import config_of, unregister_model

# The notebook's own state_dict keys (cell "Modelos"): weights saved by it load into ours and back.
NOTEBOOK_KEYS = {
    "mlp": ["net.1.weight", "net.1.bias", "net.3.weight", "net.3.bias", "net.5.weight", "net.5.bias"],
    "cnn": ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias", "fc2.weight",
            "fc2.bias"],
}


def test_parameter_counts_match_the_notebook():
    assert count_params(MLP()) == 269_322
    assert count_params(SmallCNN()) == 206_922


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_state_dict_keys_match_the_notebook(name):
    assert list(get_model(name).state_dict()) == NOTEBOOK_KEYS[name]


def test_registry_lists_and_builds_the_notebook_models_first():
    assert list_models()[:2] == ["mlp", "cnn"]
    assert isinstance(get_model("mlp"), MLP) and isinstance(get_model("cnn"), SmallCNN)
    assert get_spec("mlp").label == "MLP" and get_spec("cnn").label == "CNN"
    assert model_order(["zzz", "cnn", "mlp"]) == ["mlp", "cnn", "zzz"]


def test_unknown_model_is_one_line_listing_the_registered_names():
    with pytest.raises(ConfigError) as e:
        build_model(RunConfig(model="nosuch"))
    assert "'nosuch'" in str(e.value) and "mlp, cnn" in str(e.value) and "\n" not in str(e.value)


def test_a_registered_model_is_built_from_the_config_and_can_be_removed():
    @register_model("tiny_linear", label="Tiny")
    def tiny(cfg):
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))

    try:
        assert "tiny_linear" in list_models() and get_spec("tiny_linear").label == "Tiny"
        assert count_params(get_model("tiny_linear")) == 7850
        with pytest.raises(ValueError):
            register_model("tiny_linear")(tiny)
    finally:
        unregister_model("tiny_linear")
    assert "tiny_linear" not in list_models()


def test_sizes_are_configurable():
    assert count_params(build_model(config_of(model="mlp", mlp_hidden=32))) == 784 * 32 + 32 + 32 * 32 + 32 + 330
    small = build_model(config_of(model="cnn", cnn_c1=4, cnn_c2=8, cnn_fc=16))
    assert small(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_embedding_and_attribution_layers_are_the_right_modules():
    mlp, cnn = MLP(), SmallCNN()
    assert get_spec("mlp").embedding_layer(mlp) is mlp.net[5]  # the classifier: t-SNE takes its input
    assert get_spec("mlp").feature_layers["first"](mlp) is mlp.net[2]
    assert get_spec("cnn").embedding_layer(cnn) is cnn.fc2
    assert get_spec("cnn").attribution_layer(cnn) is cnn.conv2  # Grad-CAM on the last conv layer
    assert get_spec("mlp").attribution_layer(mlp) is None  # no conv: gradient saliency


def test_init_is_seeded_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = build_model(RunConfig(model="cnn", seed=4))
    assert torch.rand(1) == before  # the global stream did not move
    b = build_model(RunConfig(model="cnn", seed=4))
    c = build_model(RunConfig(model="cnn", seed=5))
    assert torch.equal(a.conv1.weight, b.conv1.weight) and not torch.equal(a.conv1.weight, c.conv1.weight)


def test_flop_estimates():
    assert round(train_flops_per_sample(RunConfig(model="mlp")) / 1e6, 2) == 1.61
    assert round(train_flops_per_sample(RunConfig(model="cnn")) / 1e6, 2) == 7.31


def test_pool_then_relu_equals_the_notebooks_relu_then_pool(monkeypatch):
    from mnistlab.kernels import fused

    cnn = SmallCNN()
    x = torch.randn(16, 1, 28, 28)
    a = F.max_pool2d(F.relu(cnn.conv1(x)), 2, 2)
    a = F.max_pool2d(F.relu(cnn.conv2(a)), 2, 2)
    notebook = cnn.fc2(F.relu(cnn.fc1(torch.flatten(a, 1))))
    # the fused first layer sums the convolution in another order: equal up to rounding
    assert torch.allclose(cnn(x), notebook, rtol=1e-5, atol=1e-6)
    # with conv1 run by torch, identical bit for bit (pool_relu's kernel is exact)
    monkeypatch.setattr(fused, "_conv_applies", lambda x, conv: False)
    assert torch.equal(cnn(x), notebook)


def test_a_models_settings_are_declared_with_it_checked_and_given_flags():
    from mnistlab.cli.main import build_parser
    from mnistlab.config import ConfigError
    from mnistlab.models.registry import check_model_args
    from mnistlab.models.spec import Setting

    @register_model("tiny_wide", label="TinyWide", settings={"width": Setting(4, "hidden width", high=64)})
    def tiny(cfg, width):
        return nn.Sequential(nn.Flatten(), nn.Linear(784, width), nn.Linear(width, 10))

    try:
        assert count_params(get_model("tiny_wide")) == 785 * 4 + 5 * 10
        assert count_params(get_model("tiny_wide", width=8)) == 785 * 8 + 9 * 10
        assert check_model_args(config_of(model="tiny_wide", tiny_wide_width=4)).model_args == ()  # the default
        with pytest.raises(ConfigError, match="^--tiny-wide-width 65: must be an integer from 1 to 64$"):
            check_model_args(config_of(model="tiny_wide", tiny_wide_width=65))
        with pytest.raises(ConfigError, match="^'tiny_wide_depth': neither a config field nor a registered model's"):
            check_model_args(config_of(model="tiny_wide", tiny_wide_depth=2))
        args = build_parser().parse_args(["run", "--models", "tiny_wide", "--tiny-wide-width", "8"])
        from mnistlab.cli.args import configs_from_args

        assert configs_from_args(args)[0].model_args == (("tiny_wide_width", 8),)
        from mnistlab.cli.commands import default_run_folder

        assert default_run_folder(configs_from_args(args), "plain").name.startswith("spc300_seed0_tiny_wide_")
        at_default = build_parser().parse_args(["sweep", "--models", "tiny_wide", "--tiny-wide-width", "4"])
        assert configs_from_args(at_default)[0].model_args == ()  # a default given is no setting: same sweep
        with pytest.raises(ConfigError, match="^model_args: give a mapping of settings"):
            config_of(model="tiny_wide", model_args=5)
        with pytest.raises(ValueError, match="'Tiny_width' must be lowercase"):
            register_model("Tiny", settings={"width": Setting(1, "")})(tiny)
        with pytest.raises(ValueError, match="'tiny_wide_width' is another model's"):
            register_model("tiny", settings={"wide_width": Setting(1, "")})(tiny)
    finally:
        unregister_model("tiny_wide")


def test_mnistlabs_own_models_register_exactly_their_declarations():
    """The CLI's flags come from model_declarations (without torch); the registry's from the model files: for every
    model mnistlab's own files register, the two must be one and the same declaration."""
    from mnistlab.model_declarations import BUILTIN, declared_settings
    from mnistlab.models.registry import get_spec, model_settings

    modules = {name: get_spec(name).builder.__module__ for name in list_models()}
    own = [name for name, module in modules.items()  # a user's model resolved in this process is built by models.user
           if module.startswith("mnistlab.models.") and module != "mnistlab.models.user"]
    assert own == list(BUILTIN)
    for name in own:
        spec = get_spec(name)
        assert (spec.label, spec.source, spec.settings) == (BUILTIN[name].label, BUILTIN[name].source,
                                                            BUILTIN[name].settings)
    registered = [(stored, spec.name, setting) for stored, spec, setting in model_settings() if spec.name in BUILTIN]
    assert registered == declared_settings()
