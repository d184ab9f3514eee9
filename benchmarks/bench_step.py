"""Training-step micro-benchmark: ms/step and GFLOP/s at batch 128 for each model, fp32 and bf16.

    python benchmarks/bench_step.py

Times forward + backward + Adam on in-memory data exactly as mnistlab's fit() does (channels_last for
the CNN on CPU), best of 5 x 40 steps (--repeats, --steps), next to the fp32/bf16 matmul ceilings measured
in the same run.
The CNN's fp32 step is timed twice: with the fused kernels (mnistlab.fused: the first layer and
relu(max_pool2d), the default on CPU) and with torch's own ops, alternating.
"""
import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from bench_run import matmul_ceiling  # noqa: E402
from mnistlab.config import RunConfig  # noqa: E402
from mnistlab.kernels import fused  # noqa: E402
from mnistlab.models import build_model, train_flops_per_sample  # noqa: E402
from mnistlab.training.device import autocast, memory_format  # noqa: E402
from mnistlab.training.optim import make_adam  # noqa: E402


def step_ms(model_name: str, precision: str, batch: int = 128, steps: int = 40, repeats: int = 5) -> float:
    cfg = RunConfig(model=model_name)
    model = build_model(cfg)
    fmt = memory_format(model, torch.device("cpu"))
    model = model.to(memory_format=fmt)  # type: ignore[call-overload]  # torch's stubs lack the keyword
    x, y = torch.randn(2400, 1, 28, 28), torch.randint(0, 10, (2400,))
    opt = make_adam(model.parameters(), cfg.lr)

    def run(n):
        for s in range(n):
            i = (s * batch) % (2400 - batch)
            with autocast(torch.device("cpu"), precision):
                out = model(x[i:i + batch].contiguous(memory_format=fmt)).float()
            loss = F.cross_entropy(out, y[i:i + batch])
            opt.zero_grad()
            loss.backward()
            opt.step()

    run(10)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run(steps)
        best = min(best, (time.perf_counter() - start) / steps)
    return best * 1000


def torch_ops_step_ms(model_name: str, steps: int, repeats: int) -> float:
    """The same step with torch's ops only (the fused kernels switched off for this call)."""
    with fused.disabled():
        return step_ms(model_name, "fp32", steps=steps, repeats=repeats)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=40, help="steps per timing (default 40)")
    p.add_argument("--repeats", type=int, default=5, help="timings per figure, the best is kept (default 5)")
    args = p.parse_args()
    timing = {"steps": args.steps, "repeats": args.repeats}
    print(f"ceiling fp32 {matmul_ceiling():.0f} GFLOP/s, bf16 {matmul_ceiling(torch.bfloat16):.0f} GFLOP/s")
    print(f"fused kernels: {fused.status()}")
    for name in ("mlp", "cnn"):
        flops = train_flops_per_sample(RunConfig(model=name)) * 128
        for precision in ("fp32", "bf16"):
            ms = step_ms(name, precision, **timing)
            print(f"{name} {precision}: {ms:.2f} ms/step, {flops / ms / 1e6:.0f} GFLOP/s")
    flops = train_flops_per_sample(RunConfig(model="cnn")) * 128
    for _ in range(3):  # alternate: the machine's speed drifts between minutes
        ours, theirs = step_ms("cnn", "fp32", **timing), torch_ops_step_ms("cnn", **timing)
        print(f"cnn fp32 fused kernels {ours:.2f} ms ({flops / ours / 1e6:.0f} GFLOP/s) vs torch ops "
              f"{theirs:.2f} ms ({flops / theirs / 1e6:.0f} GFLOP/s): {theirs / ours:.2f}x")


if __name__ == "__main__":
    main()
