"""Linear probe of the STDP encoder: how much class information its frozen spike codes carry.

Trains :class:`adapters.stdp.StdpAE`'s encoder with STDP on MNIST (no labels), encodes train and
test images into binary spike codes, and fits a multinomial logistic regression (L2, full-batch
L-BFGS, in torch) on the train codes. Prints test accuracy and the times as JSON on stdout;
progress and logs go to stderr. Kheradpisheh et al. 2018 report 98.4 % with an SVM on a
three-layer network's potentials.

    OMP_NUM_THREADS=2 python scripts/stdp_linear_probe.py --n-probe-train 20000
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

import torch
import torch.nn.functional as F
from torch import Tensor

from adapters.stdp import StdpAE
from benchmarks.data import load

logger = logging.getLogger(__name__)


def fit_logistic_probe(x: Tensor, y: Tensor, *, n_classes: int, l2: float = 1e-4,
                       max_iter: int = 200) -> tuple[Tensor, Tensor]:
    """Multinomial logistic regression, mean cross-entropy + ``l2 · ||W||²``, full-batch L-BFGS.

    Args:
        x: float32 ``(N, D)`` features.
        y: int64 ``(N,)`` labels in ``[0, n_classes)``.

    Returns:
        ``(W (D, n_classes), b (n_classes,))``.
    """
    w = torch.zeros(x.shape[1], n_classes, requires_grad=True)
    b = torch.zeros(n_classes, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, history_size=20,
                            line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(x @ w + b, y) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach(), b.detach()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="mnist", choices=["mnist", "fashion-mnist"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-probe-train", type=int, default=20000,
                        help="train images encoded for the probe (0 = all 60,000)")
    parser.add_argument("--n-test", type=int, default=10000)
    parser.add_argument("--l2", type=float, default=1e-4)
    parser.add_argument("--config", default="{}",
                        help="JSON overrides of StdpAE.Config (encoder part is what matters)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    torch.set_num_threads(args.threads)

    train, test = load(args.dataset, "train"), load(args.dataset, "test")
    # Only the encoder is probed: keep the decoder/prior stages minimal.
    config = {"n_encode": 64, "em_iters": 1, **json.loads(args.config)}
    model = StdpAE(config)
    t0 = time.perf_counter()
    report = model.fit(train.images, seed=args.seed)
    t_stdp = report.extra.get("stdp_seconds_l1", 0.0) + report.extra.get("stdp_seconds_l2", 0.0)

    gen = torch.Generator().manual_seed(args.seed)
    n_tr = len(train.images) if args.n_probe_train == 0 else args.n_probe_train
    idx = torch.randperm(len(train.images), generator=gen)[:n_tr]
    t1 = time.perf_counter()
    z_train = model.encode(train.images[idx], show_progress=True)
    z_test = model.encode(test.images[:args.n_test], show_progress=True)
    t_encode = time.perf_counter() - t1

    t2 = time.perf_counter()
    w, b = fit_logistic_probe(z_train, train.labels[idx], n_classes=10, l2=args.l2)
    t_probe = time.perf_counter() - t2
    acc_train = float(((z_train @ w + b).argmax(1) == train.labels[idx]).float().mean())
    acc_test = float(((z_test @ w + b).argmax(1) == test.labels[:args.n_test]).float().mean())
    print(json.dumps({
        "dataset": args.dataset, "config": model.config.__dict__ | {}, "code_dim": model.code_dim,
        "n_probe_train": n_tr, "n_test": len(z_test), "probe_train_accuracy": acc_train,
        "probe_test_accuracy": acc_test, "code_rate": float(z_test.mean()),
        "stdp_convergence": {k: v for k, v in report.extra.items() if k.startswith("stdp_conv")},
        "seconds": {"stdp": t_stdp, "fit_total": report.train_seconds, "encode": t_encode,
                    "probe": t_probe, "total": time.perf_counter() - t0},
    }, default=list))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
