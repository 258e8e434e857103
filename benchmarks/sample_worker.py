"""Samples from a trained cell's saved model, in this process or in an isolated backend's Python.

``python -m benchmarks sample`` calls :func:`sample_saved` directly when the adapter's backend is
installed here. A conversion model needs TensorFlow, which lives in its own environment (``tox -e
conversion``): :func:`sample_isolated` then runs ``python -m benchmarks.sample_worker REQUEST.json
OUT.pt`` under that environment's Python, which loads the model, samples, and writes the images
(float32 ``(n, 1, 28, 28)`` in ``[0, 1]``) to ``OUT.pt`` as ``{"images": tensor}`` with
:func:`adapters.io.atomic_torch_save`; the main process reads them back with
:func:`adapters.io.load_weights` and writes the ``.npz``.

The request (JSON) holds ``adapter``, ``config``, ``model_path`` (absolute), ``n``,
``sample_seed``, ``threads``, ``device`` and ``error_path``. An expected failure (a model file that fails its
integrity check, a bad value, a missing library, an unreadable file) is written to
``error_path`` (:func:`failure_report`) and the worker exits with :data:`REPORTED_FAILURE`; the
main process raises the same exception again (:func:`reported_error`), so the CLI gives the same
one-line error (and retrain hint) as in-process sampling. Anything else is a crash, with its
traceback on the worker's stderr.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from torch import Tensor

import adapters
from adapters.device import place
from adapters.io import IntegrityError, atomic_torch_save, atomic_write_text, load_weights
from benchmarks.execute import apply_threads
from benchmarks.workers import run_module

#: The worker's exit code when it wrote an expected failure to the request's ``error_path``.
REPORTED_FAILURE = 3

#: The kinds of reported failure besides ``"integrity"``: the CLI's one-line errors.
REPORTED_KINDS: dict[str, type[Exception]] = {"ImportError": ImportError, "OSError": OSError,
                                              "ValueError": ValueError}

log = logging.getLogger(__name__)


def sample_saved(adapter: str, config: dict[str, Any], model_path: Path, n: int,
                 seed: int, *, device: str = "cpu") -> Tensor:
    """Load the model saved at ``model_path`` into a fresh ``adapter`` of ``config`` on
    ``device`` (resolved; the CPU where the adapter cannot run there) and draw ``n`` samples
    with noise seed ``seed``: the same samples on every device, up to its arithmetic.

    Returns:
        The adapter's samples: float32 ``(n, 1, 28, 28)`` in ``[0, 1]``, on the CPU.

    Raises:
        IntegrityError: the model file does not match its recorded SHA-256 or is unreadable.
        FileNotFoundError: no file at ``model_path``.
    """
    model = adapters.create(adapter, config)
    place(model, device)
    model.load(model_path)
    return model.sample(n, seed=seed)


def sample_isolated(python: Path, adapter: str, config: dict[str, Any], model_path: Path, n: int,
                    seed: int, *, threads: int, device: str = "cpu") -> Tensor:
    """:func:`sample_saved`, run under ``python`` (an isolated backend's environment) by this
    module's worker; its stdout (talk of the backend's libraries) is logged at debug level.

    Args:
        threads: the worker's torch/OpenMP threads (the suite's).
        device: the device asked for (resolved; see :func:`sample_saved`).

    Returns:
        The adapter's samples: float32 ``(n, 1, 28, 28)`` in ``[0, 1]``.

    Raises:
        IntegrityError, ValueError, ImportError, OSError: as the worker reported them.
        RuntimeError: the worker crashed (its traceback is above on stderr).
    """
    with tempfile.TemporaryDirectory(prefix="sgb-sample-") as tmp:
        request, out_file, error_file = (Path(tmp) / name
                                         for name in ("request.json", "out.pt", "error.json"))
        request.write_text(json.dumps({
            "adapter": adapter, "config": config, "model_path": str(Path(model_path).resolve()),
            "n": n, "sample_seed": seed, "threads": threads, "device": str(device),
            "error_path": str(error_file)}))
        proc = run_module(python, "benchmarks.sample_worker", [request, out_file],
                          stdout=subprocess.PIPE, text=True)
        if proc.stdout.strip():
            log.debug("%s worker's stdout:\n%s", python, proc.stdout.rstrip())
        if proc.returncode == REPORTED_FAILURE and error_file.is_file():
            raise reported_error(json.loads(error_file.read_text()))
        if proc.returncode != 0 or not out_file.is_file():
            raise RuntimeError(f"sampling {adapter} under {python}: the worker exited with code "
                               f"{proc.returncode} (its log is above on stderr)")
        return load_weights(out_file)["images"]


def failure_report(err: Exception) -> dict[str, str] | None:
    """What the worker writes for an expected failure: ``{"kind", "message"}`` (and ``"path"``
    for an :class:`~adapters.io.IntegrityError`, whose ``kind`` is ``"integrity"``; otherwise
    ``kind`` is a key of :data:`REPORTED_KINDS`), or ``None`` for any other error."""
    if isinstance(err, IntegrityError):
        return {"kind": "integrity", "path": str(err.path),
                "message": str(err).removeprefix(f"{err.path}: ")}
    kind = next((name for name, cls in REPORTED_KINDS.items() if isinstance(err, cls)), None)
    return None if kind is None else {"kind": kind, "message": str(err)}


def reported_error(report: dict[str, str]) -> Exception:
    """The exception a :func:`failure_report` stands for, to be raised in the main process."""
    if report["kind"] == "integrity":
        return IntegrityError(Path(report["path"]), report["message"])
    return REPORTED_KINDS[report["kind"]](report["message"])


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m benchmarks.sample_worker REQUEST.json OUT.pt", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    request = json.loads(Path(args[0]).read_text())
    apply_threads(int(request["threads"]))
    try:
        images = sample_saved(request["adapter"], request["config"], Path(request["model_path"]),
                              int(request["n"]), int(request["sample_seed"]),
                              device=request.get("device", "cpu"))
    except Exception as err:
        report = failure_report(err)
        if report is None:
            raise
        log.error("%s", err)
        atomic_write_text(request["error_path"], json.dumps(report))
        return REPORTED_FAILURE
    atomic_torch_save({"images": images}, args[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
