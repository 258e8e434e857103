"""Benchmark the conversion backend: conversion + simulation time, ANN-vs-SNN agreement over T.

Trains the ``ann-*`` network at a quick budget on real data, converts it with SNN Toolbox and
reports, per family (VAE decoder, GAN generator):

* conversion time and simulation time per 1,000 samples at the configured T (default 100);
* ANN-vs-SNN agreement (pixel MSE, Pearson correlation) on held-out Bernoulli noise at
  T in {10, 25, 50, 100}, with spikes, synaptic ops and firing rate per sample at each T;
* for the VAE, reconstruction MSE of the spiking decoder vs the ANN decoder on test images.

Run it in the conversion environment (TensorFlow + SNN Toolbox)::

    .venv-conversion/bin/python scripts/bench_conversion.py --dataset mnist --threads 2

Talk goes to stderr; ``--json`` prints one JSON object on stdout. ``--save-samples DIR`` writes the
SNN and ANN samples (``<family>_<dataset>.pt``) for FID in the main environment.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

SWEEP = (10, 25, 50, 100)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="mnist", choices=["mnist", "fashion-mnist"])
    p.add_argument("--family", default="both", choices=["vae", "gan", "both"])
    p.add_argument("--threads", type=int, default=2, help="CPU threads for torch and TensorFlow")
    p.add_argument("--n-train", type=int, default=60000, help="training images used (<= 60000)")
    p.add_argument("--epochs", type=int, default=10, help="ANN epochs (10: ~30-45 s on 60k images)")
    p.add_argument("--n-samples", type=int, default=1000, help="samples timed and swept")
    p.add_argument("--timesteps", type=int, default=100)
    p.add_argument("--sim-batch-size", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-samples", type=Path, default=None)
    p.add_argument("--json", action="store_true", help="print only JSON on stdout")
    args = p.parse_args(argv)
    for name in ("threads", "n_train", "epochs", "n_samples", "timesteps", "sim_batch_size"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    return args


def _bench_family(family: str, args: argparse.Namespace, train: Any, test: Any) -> dict[str, Any]:
    import torch

    import adapters

    name = f"conversion-{family}"
    dims = {"latent": 32} if family == "vae" else {"noise_dim": 32}
    config = {"hidden": 256, **dims, "epochs": args.epochs, "timesteps": args.timesteps,
              "sim_batch_size": args.sim_batch_size, "sweep_samples": args.n_samples}
    model = adapters.create(name, config)
    print(f"[{name}] training the ANN on {len(train)} {args.dataset} images, "
          f"{args.epochs} epochs ...", file=sys.stderr)
    report = model.fit(train, seed=args.seed, progress=None)
    ex = report.extra
    t0 = time.perf_counter()
    samples = model.sample(args.n_samples, seed=args.seed + 1)
    sample_seconds = time.perf_counter() - t0
    out = model.extra_outputs()
    counts = model.op_counts()
    per_1000 = 1000.0 / args.n_samples
    result: dict[str, Any] = {
        "adapter": name, "dataset": args.dataset, "threads": args.threads,
        "n_train": len(train), "epochs": args.epochs, "timesteps": args.timesteps,
        "ann_train_seconds": ex["ann_train_seconds"],
        "conversion_seconds": ex["conversion_seconds"],
        "simulation_seconds_per_1000": out["simulation_seconds"] * per_1000,
        "sample_seconds_per_1000": sample_seconds * per_1000,
        "conversion_plus_simulation_seconds_per_1000":
            ex["conversion_seconds"] + out["simulation_seconds"] * per_1000,
        "agreement_corr": out["agreement_corr"], "agreement_mse": out["agreement_mse"],
        "op_counts": counts.to_dict(),
        "sweep": {t: {k: ex[f"{k}_T{t}"] for k in (
            "agreement_corr", "agreement_mse", "spikes_per_sample", "synaptic_ops_per_sample",
            "firing_rate", "input_spikes_per_sample")} for t in sorted(
                set(SWEEP) | {args.timesteps})},
    }
    if family == "vae":
        x = test[:args.n_samples]
        recon = model.reconstruct(x)
        ann_recon = model.extra_outputs()["ann_reconstructions"]
        result["recon_mse_snn"] = float(((recon - x) ** 2).mean())
        result["recon_mse_ann"] = float(((ann_recon - x) ** 2).mean())
        result["recon_op_counts"] = model.op_counts().to_dict()
    if args.save_samples is not None:
        args.save_samples.mkdir(parents=True, exist_ok=True)
        torch.save({"snn": samples, "ann": out["ann_samples"], "result": result},
                   args.save_samples / f"{family}_{args.dataset}.pt")
    return result


def _print_table(results: list[dict[str, Any]]) -> None:
    for r in results:
        print(f"\n== {r['adapter']} on {r['dataset']} ({r['threads']} thread(s)); ANN trained "
              f"{r['ann_train_seconds']:.1f} s on {r['n_train']} images, {r['epochs']} epochs",
              file=sys.stderr)
        print(f"conversion {r['conversion_seconds']:.2f} s; simulation "
              f"{r['simulation_seconds_per_1000']:.2f} s / 1000 samples at T={r['timesteps']}; "
              f"conversion + simulation {r['conversion_plus_simulation_seconds_per_1000']:.2f} s",
              file=sys.stderr)
        print(f"{'T':>5} {'corr':>8} {'mse':>10} {'spikes':>10} {'synops':>12} {'rate':>7} "
              f"{'in-spk':>8}", file=sys.stderr)
        for t, s in r["sweep"].items():
            print(f"{t:>5} {s['agreement_corr']:8.5f} {s['agreement_mse']:10.3e} "
                  f"{s['spikes_per_sample']:10.1f} {s['synaptic_ops_per_sample']:12.0f} "
                  f"{s['firing_rate']:7.4f} {s['input_spikes_per_sample']:8.1f}", file=sys.stderr)
        if "recon_mse_snn" in r:
            print(f"reconstruction MSE: SNN decoder {r['recon_mse_snn']:.5f}, ANN decoder "
                  f"{r['recon_mse_ann']:.5f}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    threads = str(args.threads)
    # Before torch / TensorFlow start their thread pools.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
        os.environ[var] = threads
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    import torch

    torch.set_num_threads(args.threads)
    from benchmarks import data

    train = data.load(args.dataset, "train").images[:args.n_train]
    test = data.load(args.dataset, "test").images
    families = ["vae", "gan"] if args.family == "both" else [args.family]
    results = [_bench_family(f, args, train, test) for f in families]
    _print_table(results)
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
