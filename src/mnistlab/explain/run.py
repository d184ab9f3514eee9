"""Looking inside trained models: t-SNE of features (openTSNE), Grad-CAM and saliency (Captum), worst errors.

Reads a run folder (weights + config) and the test set; never trains.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from mnistlab.atomic import to_json, write_atomic
from mnistlab.data.loader import LoadedDataset
from mnistlab.data.mnist import normalize
from mnistlab.data.splits import to_float
from mnistlab.errors import RunDirError
from mnistlab.models.registry import ModelSpec, file_stem, get_spec
from mnistlab.runs.folder import load_model, load_run


@torch.inference_mode()
def features(model, spec: ModelSpec, x: torch.Tensor, layer: str = "penultimate", batch_size: int = 4096) -> np.ndarray:
    """A model's features for t-SNE: the input of its embedding layer, or the output of a named feature layer."""
    model.eval()
    module = spec.feature_layers[layer](model) if layer in spec.feature_layers else spec.embedding_layer(model)
    if module is None:
        raise RunDirError(f"model {spec.name!r} has no Linear layer to take t-SNE features from")
    grabbed: list[torch.Tensor] = []
    take_output = layer in spec.feature_layers
    hook = module.register_forward_hook(
        lambda m, args, out: grabbed.append((out if take_output else args[0]).flatten(1).clone()))
    try:
        for i in range(0, len(x), batch_size):
            model(x[i:i + batch_size])
    finally:
        hook.remove()
    return torch.cat(grabbed).numpy()


def separation(feats: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict:
    """How well digits separate in feature space: 5-fold 10-NN accuracy and silhouette (Euclidean)."""
    from sklearn.metrics import silhouette_score
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    knn = cross_val_score(KNeighborsClassifier(n_neighbors=10), feats, labels, cv=5, n_jobs=1)
    sil = silhouette_score(feats, labels, sample_size=min(5000, len(feats)), random_state=seed)
    return {"knn10_acc": float(knn.mean()), "silhouette": float(sil)}


def tsne(feats: np.ndarray, seed: int = 0, threads: int = 2) -> np.ndarray:
    """2-D openTSNE embedding: PCA to 50 dims, annoy neighbours, FFT gradients on a coarse grid.

    ints_in_interval=8 and 2 interpolation points keep the FFT grid small as the embedding grows:
    on 2 cores this takes ~7 s for 10,000 points instead of ~40 s with the defaults.
    """
    from openTSNE import TSNE
    from sklearn.decomposition import PCA

    if feats.shape[1] > 50:
        feats = PCA(50, random_state=seed).fit_transform(feats)
    return np.asarray(TSNE(n_jobs=threads, random_state=seed, ints_in_interval=8, n_interpolation_points=2)
                      .fit(feats.astype(np.float32)))


def _captum_attr():
    """captum.attr, imported without the warning its tqdm.auto import prints in a notebook lacking ipywidgets
    ("IProgress not found"): mnistlab shows no Captum progress bar, so the warning only adds noise."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        import captum.attr

    return captum.attr


def gradcam(model, layer, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Grad-CAM on `layer` (Captum), upsampled to the image size and scaled to [0, 1] per image."""
    attr = _captum_attr()
    LayerAttribution, LayerGradCam = attr.LayerAttribution, attr.LayerGradCam

    cam = LayerGradCam(model, layer).attribute(x, target=target, relu_attributions=True)
    cam = LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), interpolate_mode="bilinear")
    return _unit(cam.detach())


def saliency(model, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """|d logit / d pixel| (Captum Saliency), scaled to [0, 1] per image."""
    maps = _captum_attr().Saliency(model).attribute(x.clone().requires_grad_(True), target=target, abs=True)
    return _unit(maps.detach())


def _unit(maps: torch.Tensor) -> torch.Tensor:
    flat = maps.flatten(1)
    low, high = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    return ((flat - low) / (high - low + 1e-8)).view_as(maps)


def pick_examples(preds: dict, labels: np.ndarray, n_each: int = 6) -> np.ndarray:
    """A fixed set: the first test images all models get right, then the first any model gets wrong."""
    all_right = np.logical_and.reduce([p == labels for p in preds.values()])
    return np.concatenate([np.flatnonzero(all_right)[:n_each], np.flatnonzero(~all_right)[:n_each]])


def load_run_dataset(folder: Path, data_dir=None, log=lambda msg: None) -> LoadedDataset:
    """The dataset a run folder's models were trained on (its test set is what explain looks at)."""
    from mnistlab.data.loader import load_dataset

    payload = load_run(folder)
    name = next(iter(payload["models"].values()))["config"].get("dataset", "mnist")
    return load_dataset(name, data_dir, log=log)


EXTRAS = {"openTSNE": "t-SNE", "captum": "Grad-CAM and saliency"}


def missing_extras(do_tsne: bool = True, do_gradcam: bool = True) -> list[str]:
    """The optional packages these parts of explain need that are not installed (found without importing them)."""
    import importlib.util

    wanted = [name for name, on in (("openTSNE", do_tsne), ("captum", do_gradcam)) if on]
    return [name for name in wanted if importlib.util.find_spec(name) is None]


def previous_numbers(folder: Path) -> dict:
    """The numbers of an earlier explain (explain.json), kept for the parts not redone; checked before anything
    is drawn, so a damaged file is refused with nothing rewritten."""
    path = Path(folder) / "explain.json"
    if not path.is_file():
        return {}
    try:
        merged = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError) as e:
        raise RunDirError(f"{path}: unreadable ({str(e)[:80]}); delete it and run `mnistlab explain` again") from None
    if not isinstance(merged, dict):
        raise RunDirError(f"{path}: not explain numbers (a JSON {type(merged).__name__}, not an object); delete it "
                          "and run `mnistlab explain` again")
    return merged


def merge_numbers(previous: dict, numbers: dict) -> dict:
    """This explain's numbers over the previous ones, keeping those of the parts not redone this time."""
    merged = dict(previous)
    for key, value in numbers.items():
        kept = merged.get(key)
        merged[key] = {**(kept if isinstance(kept, dict) else {}), **value} if isinstance(value, dict) else value
    return merged


@dataclass
class Explanation:
    """What explaining a run folder measured: each model's numbers (test_acc, label; knn10_acc, silhouette, ... with
    t-SNE; attribution and attribution_on_digit with Grad-CAM), the test images all models' heat maps show and
    the share of those images their digits cover, and the files written."""

    models: dict[str, dict[str, Any]]
    examples: list[int] = field(default_factory=list)
    digit_area_fraction: float | None = None
    paths: list[Path] = field(default_factory=list)

    def __getitem__(self, model: str) -> dict[str, Any]:
        """A model's numbers, as `explain_models(...)[model]` read them when it returned a dict."""
        return self.models[model]


def explain_run(folder: Path, mnist: LoadedDataset, *, do_tsne: bool = True, do_gradcam: bool = True,
                feature_layer: str = "penultimate", max_points: int = 10_000, lang: str = "pt",
                log=lambda msg: None) -> Explanation:
    """Write the explanation figures into folder/figures and their numbers into folder/explain.json."""
    from mnistlab.figures import explain as explain_plots

    payload = load_run(folder)
    merged = previous_numbers(folder)
    models = {name: load_model(folder, name)[0] for name in payload["models"]}
    specs = {name: get_spec(name) for name in models}
    labels_of = {name: payload["models"][name].get("label") or specs[name].label for name in models}
    if not models:
        raise RunDirError(f"{folder}: holds no model to explain")
    raw = to_float(mnist.test_images)
    x, labels = normalize(raw, spec=mnist.spec), mnist.test_labels.numpy()
    figures, paths = Path(folder) / "figures", []
    numbers: dict[str, Any] = {}
    with torch.inference_mode():
        logits = {name: torch.cat([m(x[i:i + 4096]) for i in range(0, len(x), 4096)]) for name, m in models.items()}
    preds = {name: lg.argmax(1).numpy() for name, lg in logits.items()}
    for name, model in models.items():
        numbers[name] = {"test_acc": float((preds[name] == labels).mean()), "label": labels_of[name]}
        paths += explain_plots.misclassified(raw.numpy(), labels, torch.softmax(logits[name], 1).numpy(),
                                             file_stem(name), labels_of[name], figures, lang)
        if do_tsne:
            layer = feature_layer if feature_layer in specs[name].feature_layers else "penultimate"
            start = time.perf_counter()
            feats = features(model, specs[name], x[:max_points], layer)
            numbers[name].update(separation(feats, labels[:max_points]), feature_layer=layer,
                                 feature_dim=int(feats.shape[1]), points=len(feats))
            log(f"[{labels_of[name]}] t-SNE of {len(feats):,} test features ({layer} layer, {feats.shape[1]} dims)")
            embedding = tsne(feats)
            numbers[name]["tsne_seconds"] = time.perf_counter() - start
            paths += explain_plots.tsne_scatter(embedding, labels[:max_points], file_stem(name), labels_of[name],
                                                numbers[name], figures, lang)
    if do_gradcam:
        idx = pick_examples(preds, labels)
        for name, model in models.items():
            target = torch.from_numpy(preds[name][idx])
            cam_layer = specs[name].attribution_layer(model)
            maps = (gradcam(model, cam_layer, x[idx], target) if cam_layer is not None
                    else saliency(model, x[idx], target))
            method = "gradcam" if cam_layer is not None else "saliency"
            paths += explain_plots.heatmap_grid(raw[idx].numpy(), maps.numpy(), labels[idx], preds[name][idx],
                                                file_stem(name), labels_of[name], method, figures, lang)
            numbers[name]["attribution_on_digit"] = mass_on_digit(maps, raw[idx])
            numbers[name]["attribution"] = method
    explained = Explanation(numbers, paths=paths)
    if do_gradcam:
        explained.examples, explained.digit_area_fraction = idx.tolist(), float(_near_ink(raw[idx]).mean())
        numbers = {**numbers, "examples": explained.examples, "digit_area_fraction": explained.digit_area_fraction}
    paths.append(write_atomic(Path(folder) / "explain.json", to_json(merge_numbers(merged, numbers))))
    return explained


def _near_ink(raw: torch.Tensor) -> torch.Tensor:
    """Pixels of the digit (ink > 0.1) and a 2-pixel margin around it."""
    return F.max_pool2d((raw > 0.1).float(), 5, stride=1, padding=2)


def mass_on_digit(maps: torch.Tensor, raw: torch.Tensor) -> float:
    """Share of the attribution that falls on or next to the digit; compare with the area it covers."""
    return float((maps * _near_ink(raw)).sum() / maps.sum())
