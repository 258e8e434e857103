"""Score a model that is not an adapter: export its samples and op counts, then run ``score``.

The model here lives outside the suite on purpose: a mixture of Bernoulli images fitted by EM in
plain torch (20 components, a few seconds on one core). Its sampler is a small network: a
component drawn from the mixture weights becomes a one-hot code (one spike), a bias-free
``Linear(20 -> 784)`` holding the components' pixel logits turns it into pixel probabilities,
and each pixel is drawn from them. :func:`adapters.opcount.measure_ops` counts that network with
the hooks every built-in row is counted with (the spike reaches 784 pixels: 784 synaptic
operations per sample). The script writes

* ``samples.npz`` (``images``: uint8 N x 28 x 28, N = the suite's ``n_eval``),
* ``ops.json`` (the per-sample counts, ``OpCounts.to_dict()``),

and runs::

    python -m benchmarks score --dataset mnist --samples OUT/samples.npz --ops OUT/ops.json \\
        --label bernoulli-mixture --family gan --suite SUITE --results-dir RESULTS

whose record then shows up in ``python -m benchmarks tables --suite SUITE``. Usage::

    python examples/score_external.py --suite smoke --out-dir /tmp/bmm --results-dir /tmp/bmm-runs
    python examples/score_external.py --suite quick     # the quick suite's protocol: 10,000 samples
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn


def fit_mixture(x: Tensor, components: int, iterations: int, seed: int) -> tuple[Tensor, Tensor]:
    """EM for a mixture of Bernoulli images on ``x`` (N, 784) in [0, 1]: mixture weights (K,)
    and component pixel probabilities (K, 784)."""
    gen = torch.Generator().manual_seed(seed)
    means = x[torch.randperm(len(x), generator=gen)[:components]].clamp(0.05, 0.95)
    weights = torch.full((components,), 1.0 / components)
    for _ in range(iterations):
        log_p = x @ means.log().T + (1 - x) @ (1 - means).log().T + weights.log()  # (N, K)
        resp = torch.softmax(log_p, dim=1)
        mass = resp.sum(0) + 1e-6
        weights = mass / mass.sum()
        means = ((resp.T @ x) / mass[:, None]).clamp(1e-3, 1 - 1e-3)
    return weights, means


class MixtureSampler(nn.Module):
    """One-hot component code -> bias-free Linear(K -> 784) of pixel logits -> Bernoulli pixels."""

    def __init__(self, means: Tensor) -> None:
        super().__init__()
        self.pixels = nn.Linear(means.shape[0], means.shape[1], bias=False)
        with torch.no_grad():
            self.pixels.weight.copy_(torch.logit(means).T)

    def forward(self, code: Tensor, gen: torch.Generator) -> Tensor:
        return torch.bernoulli(torch.sigmoid(self.pixels(code)), generator=gen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="mnist", choices=["mnist", "fashion-mnist"])
    parser.add_argument("--suite", default="quick", help="whose protocol scores the samples")
    parser.add_argument("--out-dir", type=Path, default=Path("external-samples"))
    parser.add_argument("--results-dir", type=Path, default=None,
                        help="where score writes the record (default: score's, runs/)")
    parser.add_argument("--components", type=int, default=20)
    parser.add_argument("--export-only", action="store_true",
                        help="write samples and ops, print the score command, do not run it")
    args = parser.parse_args(argv)

    from adapters.opcount import measure_ops
    from benchmarks import data
    from benchmarks.suites import load_suite

    n = load_suite(args.suite).n_eval
    data.fetch(args.dataset)
    train = data.load(args.dataset, "train").images.reshape(-1, 784)[:20_000]
    weights, means = fit_mixture(train, args.components, iterations=15, seed=0)
    sampler = MixtureSampler(means)
    gen = torch.Generator().manual_seed(1)
    component = torch.multinomial(weights, n, replacement=True, generator=gen)
    code = nn.functional.one_hot(component, args.components).float()
    images: list[Tensor] = []
    counts = measure_ops(sampler, lambda: images.append(sampler(code, gen)), n_samples=n,
                         timesteps=1)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    samples = args.out_dir / "samples.npz"
    ops = args.out_dir / "ops.json"
    pixels = (images[0].reshape(n, 28, 28) * 255).to(torch.uint8).numpy()
    np.savez_compressed(samples, images=pixels)
    ops.write_text(json.dumps(counts.to_dict(), indent=2) + "\n")
    print(f"wrote {n} samples to {samples} and their counts to {ops} "
          f"({counts.synaptic_ops:.0f} synaptic ops, {counts.macs:.0f} MACs per sample)")

    command = [sys.executable, "-m", "benchmarks", "score", "--dataset", args.dataset,
               "--samples", str(samples), "--ops", str(ops), "--label", "bernoulli-mixture",
               "--family", "gan", "--suite", args.suite]
    if args.results_dir is not None:
        command += ["--results-dir", str(args.results_dir)]
    print("$ python " + " ".join(command[1:]))
    if args.export_only:
        return 0
    return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
