"""How precision and recall move with the k-NN neighbourhood size, in both feature spaces.

Improved precision/recall (Kynkäänniemi et al. 2019) call a point covered when it lies inside the
ball reaching the k-th nearest neighbour of some point of the other set; the suite reports k = 3.
This script samples every recorded cell of a run again from its saved model (the same seed, so the
same images as its record; conversion cells through the conversion environment) and prints, as
Markdown on stdout, precision and recall at each ``--ks`` in the classifier's feature space and in
the autoencoder's. The FID it recomputes must equal the record's (checked), so the numbers belong
to the recorded samples.

    OMP_NUM_THREADS=1 python scripts/pr_neighbourhood.py --suite quick --results-dir runs \\
        --seeds 0 --ks 3 5 10 > pr_k.md
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

import adapters
from benchmarks import records as rec
from benchmarks.execute import DatasetContext, isolated_python
from benchmarks.metrics import keys as K
from benchmarks.metrics.fidelity import (
    extract,
    fid_from_features,
    quality_from_features,
    reference_features,
)
from benchmarks.sample_worker import sample_isolated, sample_saved
from benchmarks.suites import load_suite


def samples_of(record: dict, results_dir: Path, suite_name: str, threads: int) -> torch.Tensor:
    """The record's samples again, from its saved model (same noise seed as the run)."""
    name, config = record["adapter"]["name"], record["adapter"]["config"]
    path = rec.model_path(results_dir, suite_name, record["cell_id"])
    n, seed = record["dataset"]["n_eval"], record["seed"]
    if adapters.missing_libraries(name):
        python = isolated_python(adapters.backend_of(name))
        if python is None:
            raise SystemExit(f"{name} needs its own environment (tox -e conversion)")
        return sample_isolated(python, name, config, path, n, seed, threads=threads)
    return sample_saved(name, config, path, n, seed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="quick")
    parser.add_argument("--results-dir", type=Path, default=rec.DEFAULT_RUNS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--ks", type=int, nargs="+", default=[3, 5, 10])
    args = parser.parse_args()
    torch.set_num_threads(1)
    suite = load_suite(args.suite)
    records = [r for r in rec.load_records(args.results_dir / suite.name / "records")
               if r["status"] == "ok" and r["seed"] in args.seeds]
    contexts: dict[str, DatasetContext] = {}
    refs: dict[tuple[str, str, int], object] = {}  # (data set, space, k) -> reference features
    header = ["row", "data set", "space"] + [f"{m}@{k}" for k in args.ks for m in ("P", "R")]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in sorted(records, key=lambda r: (r["dataset"]["name"], r["adapter"]["label"])):
        dataset = r["dataset"]["name"]
        if dataset not in contexts:
            contexts[dataset] = DatasetContext(dataset, suite)
        ctx = contexts[dataset]
        images = samples_of(r, args.results_dir, suite.name, suite.threads)
        spaces = (("classifier", ctx.feature_net, ctx.feature_info, ctx.reference),
                  ("autoencoder", ctx.ae_net, ctx.ae_info, ctx.ae_reference))
        for space, net, info, reference in spaces:
            feats = extract(images, net).features
            if space == "classifier" and fid_from_features(feats, reference) != r["metrics"][K.FID]:
                raise SystemExit(f"{r['cell_id']}: the samples drawn again do not give the "
                                 f"recorded FID; the model or the code changed since")
            cells = []
            for k in args.ks:
                if (dataset, space, k) not in refs:
                    refs[dataset, space, k] = reference_features(
                        ctx.eval_ref, feature_net=net, info=info, pr_neighborhood=k)
                ref_k = refs[dataset, space, k]
                q = quality_from_features(feats, ref_k)
                cells += [f"{q[K.PRECISION]:.3f}", f"{q[K.RECALL]:.3f}"]
            print(f"| {r['adapter']['label']} (seed {r['seed']}) | {dataset} | {space} | "
                  + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
