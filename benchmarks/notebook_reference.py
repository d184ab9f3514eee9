"""The notebook's pipeline (cells In[1]-In[8]), faithfully, as the speed and accuracy reference.

Same per-item path as torchvision's MNIST (uint8 -> PIL image -> ToTensor -> Normalize), the same
DataLoader(batch_size=128, shuffle=True, num_workers=2, pin_memory=True), the notebook's subset/split,
models, loops, early stopping, confusion matrices, classification reports, curves (PNG) and CSV.
torchvision is not needed: ToTensor/Normalize are reproduced in a few lines.

    python benchmarks/notebook_reference.py --seed 0 --samples-per-class 300 --out /tmp/nbref

Prints one JSON line at the end: test accuracies, epochs and the seconds of each phase.
"""
import argparse
import csv
import json
import random
import sys
import time
from pathlib import Path

T0 = time.perf_counter()

import matplotlib  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402
from torch.utils.data import DataLoader, Dataset, Subset, random_split  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.metrics import classification_report, confusion_matrix  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from mnistlab.data.idx import decode_idx  # noqa: E402
from mnistlab.data.loader import cache_dir  # noqa: E402  (only to read the same verified IDX files)

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
MEAN, STD = 0.1307, 0.3081


class MNISTLikeTorchvision(Dataset):
    """torchvision.datasets.MNIST's __getitem__: PIL image in mode L, then the transform."""

    def __init__(self, images, targets):
        self.data, self.targets = images, targets

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        img, target = self.data[index], int(self.targets[index])
        img = Image.fromarray(img.numpy(), mode="L")
        x = torch.from_numpy(np.array(img, np.uint8, copy=True)).view(1, 28, 28).float().div(255)  # ToTensor
        return x.sub_(MEAN).div_(STD), target  # Normalize


def read(folder, name):
    return torch.from_numpy(decode_idx((folder / name).read_bytes()).copy())


class MLP(nn.Module):
    def __init__(self, hidden=256, num_classes=10):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, hidden), nn.ReLU(inplace=True),
                                 nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.net(x)


class SmallCNN(nn.Module):
    def __init__(self, c1=16, c2=32, fc=128, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, c1, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear((28 // 4) * (28 // 4) * c2, fc)
        self.fc2 = nn.Linear(fc, num_classes)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


class EarlyStopping:
    def __init__(self, patience=5, min_delta=0.0):
        self.patience, self.min_delta, self.best, self.count, self.stop = patience, min_delta, float("inf"), 0, False

    def step(self, value):
        if value < self.best - self.min_delta:
            self.best, self.count = value, 0
        else:
            self.count += 1
            if self.count >= self.patience:
                self.stop = True


def train_one_epoch(model, loader, optim, criterion):
    model.train()
    total_loss, correct, total = 0.0, 0, 0
    for x, y in loader:
        x, y = x.to(DEVICE, non_blocking=True), y.to(DEVICE, non_blocking=True)
        optim.zero_grad()
        logits = model(x)
        loss = criterion(logits, y)
        loss.backward()
        optim.step()
        total_loss += float(loss.item()) * y.size(0)
        correct += int((logits.argmax(1) == y).sum().item())
        total += y.size(0)
    return total_loss / total, correct / total


@torch.no_grad()
def evaluate(model, loader, criterion):
    model.eval()
    total_loss, correct, total, all_y, all_p = 0.0, 0, 0, [], []
    for x, y in loader:
        x, y = x.to(DEVICE, non_blocking=True), y.to(DEVICE, non_blocking=True)
        logits = model(x)
        total_loss += float(criterion(logits, y).item()) * y.size(0)
        pred = logits.argmax(1)
        correct += int((pred == y).sum().item())
        total += y.size(0)
        all_y.append(y.cpu().numpy())
        all_p.append(pred.cpu().numpy())
    return total_loss / total, correct / total, np.concatenate(all_y), np.concatenate(all_p)


def run_training(model, loaders, epochs, lr, patience, quiet):
    train_loader, val_loader = loaders
    criterion = nn.CrossEntropyLoss()
    optim = torch.optim.Adam(model.parameters(), lr=lr)
    es = EarlyStopping(patience=patience)
    history = {"epoch": [], "train_loss": [], "train_acc": [], "val_loss": [], "val_acc": []}
    best_state = None
    for ep in range(1, epochs + 1):
        tr_loss, tr_acc = train_one_epoch(model, train_loader, optim, criterion)
        va_loss, va_acc, _, _ = evaluate(model, val_loader, criterion)
        for k, v in zip(history, (ep, tr_loss, tr_acc, va_loss, va_acc)):
            history[k].append(v)
        if not quiet:
            print(f"epoch {ep:02d} | train_loss={tr_loss:.4f} acc={tr_acc:.4f} | "
                  f"val_loss={va_loss:.4f} acc={va_acc:.4f}")
        if va_loss <= es.best - es.min_delta:
            best_state = {k: v.cpu().clone() for k, v in model.state_dict().items()}
        es.step(va_loss)
        if es.stop:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


def plot_curves(hist, title, savepath):
    for key, label in (("loss", "Loss"), ("acc", "Acurácia")):
        fig = plt.figure()
        plt.plot(hist["epoch"], hist[f"train_{key}"], label=f"train_{key}")
        plt.plot(hist["epoch"], hist[f"val_{key}"], label=f"val_{key}")
        plt.xlabel("Época"); plt.ylabel(label); plt.title(f"{title} — {label}"); plt.legend()  # noqa: E702
        fig.savefig(savepath.replace(".png", f"_{key}.png"), bbox_inches="tight")
        plt.close(fig)


def confusion_and_report(y_true, y_pred, prefix, out_fig, quiet):
    cm = confusion_matrix(y_true, y_pred, labels=list(range(10)))
    fig = plt.figure()
    plt.imshow(cm, interpolation="nearest")
    plt.title(f"Matriz de confusão — {prefix.upper()}"); plt.xlabel("Predito"); plt.ylabel("Verdadeiro")  # noqa: E702
    fig.savefig(out_fig / f"cm_{prefix}.png", bbox_inches="tight")
    plt.close(fig)
    report = classification_report(y_true, y_pred, digits=4)
    if not quiet:
        print(report)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--samples-per-class", type=int, default=300)
    p.add_argument("--out", type=Path, default=Path("nbref"))
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()
    seed, samples_per_class = args.seed, args.samples_per_class
    val_split, epochs, patience, batch_size, lr = 0.2, 30, 5, 128, 1e-3
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    random.seed(seed)
    out_fig = args.out / "figures"
    out_fig.mkdir(parents=True, exist_ok=True)
    timings = {"imports": time.perf_counter() - T0}

    t = time.perf_counter()
    folder = cache_dir()
    full_train = MNISTLikeTorchvision(read(folder, "train-images-idx3-ubyte"), read(folder, "train-labels-idx1-ubyte"))
    full_test = MNISTLikeTorchvision(read(folder, "t10k-images-idx3-ubyte"), read(folder, "t10k-labels-idx1-ubyte"))
    labels = np.array(full_train.targets)
    indices_per_class = [np.where(labels == c)[0] for c in range(10)]
    chosen = []
    for c in range(10):
        idxs = indices_per_class[c]
        rng.shuffle(idxs)
        chosen.extend(idxs[:samples_per_class])
    chosen = np.array(chosen)
    rng.shuffle(chosen)
    subset_train = Subset(full_train, chosen.tolist())
    n_val = int(val_split * len(subset_train))
    train_set, val_set = random_split(subset_train, [len(subset_train) - n_val, n_val],
                                      generator=torch.Generator().manual_seed(seed))
    kw = dict(batch_size=batch_size, num_workers=2, pin_memory=True)
    loaders = (DataLoader(train_set, shuffle=True, **kw), DataLoader(val_set, shuffle=False, **kw))
    test_loader = DataLoader(full_test, shuffle=False, **kw)
    timings["data"] = time.perf_counter() - t

    results, rows = {}, []
    for name, make in (("mlp", MLP), ("cnn", SmallCNN)):
        model = make().to(DEVICE)
        t = time.perf_counter()
        hist = run_training(model, loaders, epochs, lr, patience, args.quiet)
        timings[f"train_{name}"] = time.perf_counter() - t
        t = time.perf_counter()
        plot_curves(hist, name.upper(), str(out_fig / f"{name}_curves.png"))
        evaluate(model, loaders[1], nn.CrossEntropyLoss())
        _, _, y_true, y_pred = evaluate(model, test_loader, nn.CrossEntropyLoss())
        confusion_and_report(y_true, y_pred, name, out_fig, args.quiet)
        timings[f"eval_{name}"] = time.perf_counter() - t
        acc = float((y_true == y_pred).mean())
        results[name] = {"test_acc": acc, "epochs": len(hist["epoch"]), "n_train": len(train_set)}
        rows.append([name.upper(), min(hist["val_loss"]), hist["val_acc"][-1], acc,
                     sum(p.numel() for p in model.parameters() if p.requires_grad)])
    with open(args.out / "resultados.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["modelo", "best_val_loss", "final_val_acc", "test_acc", "params"])
        w.writerows(rows)
    timings["total"] = time.perf_counter() - T0
    print(json.dumps({"results": results, "timings": timings}))


if __name__ == "__main__":
    main()
