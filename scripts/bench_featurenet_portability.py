"""Does the feature network's training depend on the CPU? Measured by pretending to be another one.

The same feature-network recipe (:mod:`benchmarks.metrics.features`) is trained for ``--steps``
steps on the first ``128 * steps`` Fashion-MNIST train images, each run in a fresh process, with
the kernels torch and MKL pick on this CPU and with MKL told to use an older instruction set
(``MKL_ENABLE_INSTRUCTIONS=AVX2`` / ``SSE4_2``, what an AVX2-only or older machine would pick) —
once with the default kernels (``train_here`` in the run's own process), once through
``train_feature_net`` itself (its worker under ``PORTABLE_ENV``; MKL's setting reaches it).
Prints one line per run: the md5 of all weights, the test accuracy, the training time.

Portable means every ``portable`` line shows the same hash; the ``default`` lines differing shows
why it is needed. Usage (needs the data: ``python -m benchmarks data fetch fashion-mnist``)::

    python scripts/bench_featurenet_portability.py --steps 100
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
ISAS = ("", "AVX2", "SSE4_2")  # "" = whatever MKL picks on this CPU


def _child(steps: int, kernels: str) -> None:
    import torch

    from benchmarks.data import load
    from benchmarks.metrics.features import train_feature_net, train_here

    train, test = load("fashion-mnist", "train"), load("fashion-mnist", "test")
    n = 128 * steps
    part = SimpleNamespace(images=train.images[:n], labels=train.labels[:n])
    train_fn = train_feature_net if kernels == "portable" else train_here
    net, acc, seconds = train_fn("fashion-mnist", part, test, epochs=1, progress=False)
    digest = hashlib.md5(b"".join(v.detach().contiguous().numpy().tobytes()
                                  for v in net.state_dict().values())).hexdigest()[:12]
    print(json.dumps({"hash": digest, "test_accuracy": acc,
                      "seconds": round(seconds, 1),
                      # portable: the worker's, which refuses to train on anything but DEFAULT
                      "aten": "worker" if kernels == "portable"
                      else torch.backends.cpu.get_cpu_capability()}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="training steps per run")
    parser.add_argument("--child", choices=("default", "portable"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps < 1:
        parser.error("--steps must be >= 1")
    if args.child:
        _child(args.steps, args.child)
        return 0
    from benchmarks.metrics.features import PORTABLE_ENV

    # The default runs get one thread but none of the portable settings (the others get them
    # from train_feature_net).
    base = {k: v for k, v in os.environ.items() if k not in PORTABLE_ENV}
    base.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    hashes: dict[str, set[str]] = {"default": set(), "portable": set()}
    for kernels in ("default", "portable"):
        for isa in ISAS:
            env = dict(base)
            env.pop("MKL_ENABLE_INSTRUCTIONS", None)
            if isa:
                env["MKL_ENABLE_INSTRUCTIONS"] = isa
            out = subprocess.run([sys.executable, __file__, "--child", kernels, "--steps",
                                  str(args.steps)],
                                 env=env, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            hashes[kernels].add(row["hash"])
            print(f"{kernels:8s} MKL isa={isa or 'native':7s} aten={row['aten']:7s} "
                  f"weights md5 {row['hash']}  test acc {row['test_accuracy']:.4f}  "
                  f"{row['seconds']:.1f} s", flush=True)
    for kernels, seen in hashes.items():
        print(f"{kernels}: {len(seen)} distinct weight set(s) over {len(ISAS)} instruction sets")
    return 0 if len(hashes["portable"]) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
