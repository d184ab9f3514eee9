import json

import pytest

from helpers import copied
from mnistlab.cli.main import main


@pytest.fixture(scope="module")
def trained_run(tiny_run, tmp_path_factory):
    return copied(tiny_run, tmp_path_factory.mktemp("explain") / "run")  # explain writes into the folder


def test_explain_writes_figures_and_numbers(trained_run, capsys):
    assert main(["explain", str(trained_run), "--max-points", "600", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "10-NN accuracy in feature space" in out and "Grad-CAM mass" in out
    figures = trained_run / "figures"
    for name in ("tsne_mlp", "tsne_cnn", "gradcam_cnn", "saliency_mlp", "misclassified_mlp", "misclassified_cnn"):
        for ext in ("png", "pdf"):
            assert (figures / f"{name}.{ext}").stat().st_size > 5000, name
    numbers = json.loads((trained_run / "explain.json").read_text())
    for model in ("mlp", "cnn"):
        n = numbers[model]
        assert n["points"] == 600 and n["knn10_acc"] > 0.5
        assert n["silhouette"] > 0.05  # classes form clusters (0 would be no structure at all)
        # the attribution lies on the digit more than a map spread evenly over the image would
        assert n["attribution_on_digit"] > numbers["digit_area_fraction"]
    # Trained features separate digits far better than chance (0.1), and better than raw chance clusters.
    assert numbers["cnn"]["knn10_acc"] > 0.8
    assert len(numbers["examples"]) == 12


def test_png_is_not_blank(trained_run):
    from matplotlib.image import imread

    img = imread(trained_run / "figures" / "gradcam_cnn.png")
    assert img.shape[0] > 100 and img[..., :3].std() > 0.05


def test_explain_only_gradcam_keeps_tsne_numbers(trained_run):
    before = json.loads((trained_run / "explain.json").read_text())
    assert main(["explain", str(trained_run), "--gradcam"]) == 0
    after = json.loads((trained_run / "explain.json").read_text())
    assert after["cnn"]["knn10_acc"] == before["cnn"]["knn10_acc"]


@pytest.mark.parametrize("make,needle", [
    (lambda p: p / "missing", "no such run folder"),
    (lambda p: p, "not a mnistlab run folder"),
])
def test_explain_bad_folder(tmp_path, capsys, make, needle):
    assert main(["explain", str(make(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1


def test_explain_folder_without_weights(trained_run, tmp_path, capsys):
    import shutil

    copy = tmp_path / "noweights"
    shutil.copytree(trained_run, copy)
    (copy / "cnn.safetensors").unlink()
    assert main(["explain", str(copy), "--gradcam"]) == 2
    assert "weights missing" in capsys.readouterr().err
