"""Runs the training/generation half of one cell in a separate Python (an isolated backend's env).

The conversion backend needs TensorFlow, which lives in its own environment (``tox -e
conversion``) and process: there, ``python -m benchmarks.cell_worker REQUEST.json OUT.pt`` loads the
data, trains, saves the model, samples and reconstructs (:func:`benchmarks.execute.produce`), and
writes the outputs; the main process (which has torch-fidelity) computes the metrics, draws the
figures and makes the record. Nothing of ``benchmarks.metrics`` is imported here.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import resource
import sys
from pathlib import Path

from adapters.io import atomic_torch_save
from benchmarks import data as datamod
from benchmarks.execute import apply_threads, produce


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m benchmarks.cell_worker REQUEST.json OUT.pt", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    request = json.loads(Path(args[0]).read_text())
    apply_threads(int(request["threads"]))
    train = datamod.load(request["dataset"], "train").images
    if request["n_train"]:
        train = train[: request["n_train"]]
    test = datamod.load(request["dataset"], "test").images
    recon_ref = test[: request["n_recon"]] if request["n_recon"] else None
    out = produce(request["adapter"], request["config"], train=train, recon_ref=recon_ref,
                  n_eval=request["n_eval"], seed=request["seed"],
                  model_path=Path(request["model_path"]), desc=f"fit {request['cell_id']}",
                  twins=request.get("twins", ()), progress=request.get("progress", True),
                  trained=request.get("trained"), device=request.get("device", "cpu"))
    # A fresh process: its lifetime peak is the cell's peak (ru_maxrss is KiB on Linux).
    out.peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    atomic_torch_save(dataclasses.asdict(out), args[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
