"""Cell records: one JSON file per (entry label x dataset x seed), written atomically.

A record is a plain ``dict`` at run time (the table and check code read it as one); :class:`Record`
and its parts describe its keys for readers and type checkers. Schema (``schema_version`` 1)::

    schema_version, suite, cell_id, config_hash,
    adapter {label, name, backend, family, config},
    dataset {name, n_train, n_eval, n_recon, checksum},
    seed, status "ok"|"failed"|"skipped", error {type, message, traceback} | null,
    metrics {flat key (benchmarks.metrics.keys) -> float | null},
    metric_config {feature_extractor, feature_net_test_accuracy, n_samples, energy_model, ...},
    op_counts {OpCounts fields} | null, fit {FitReport fields} | null,
    timing {train_seconds, sample_seconds, recon_seconds, eval_seconds, started, finished},
    env {git, versions, device, deterministic_algorithms, threads, machine, cpu, jobs,
         accelerator (off the CPU), device_requested + device_reason (where the adapter ran on
         the CPU though another device was asked for)}, artifacts {name -> repo-relative path},
    class_histogram {classifier, shares, test_shares} (optional: ok cells measured with it)

Where a suite's files live under a results folder ``R`` (:data:`DEFAULT_RUNS` for a run,
:data:`DEFAULT_RESULTS` for the committed reference): records in ``R/<suite>/records/``, saved
models in ``R/<suite>/models/``, figures in ``R/<suite>/figures/``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypedDict

if sys.version_info >= (3, 11):
    from typing import NotRequired
else:  # pragma: no cover - Python 3.10 (typing_extensions comes with torch)
    from typing_extensions import NotRequired

SCHEMA_VERSION = 1
STATUSES = ("ok", "failed", "skipped")
REQUIRED_KEYS = ("schema_version", "suite", "cell_id", "config_hash", "adapter", "dataset", "seed",
                 "status", "error", "metrics", "metric_config", "op_counts", "fit", "timing", "env")
_REPO = Path(__file__).resolve().parent.parent
#: The reference: the committed results (``results/`` of the repository). ``compare`` reads it;
#: only a deliberate refresh (``run ... --results-dir results``) writes it.
DEFAULT_RESULTS = _REPO / "results"
#: Where ``run`` writes, and ``tables``, ``sample``, ``check`` and ``compare`` read, by default
#: (``runs/`` of the repository, ignored by git).
DEFAULT_RUNS = _REPO / "runs"

Status = Literal["ok", "failed", "skipped"]


class AdapterInfo(TypedDict):
    label: str  # the suite entry's row name
    name: str  # the registered adapter
    backend: str  # "ann" | "surrogate" | "conversion" | "stdp"
    family: str  # "vae" | "gan" | "autoencoder"
    config: dict[str, Any]  # the adapter's full config, defaults filled in


class DatasetInfo(TypedDict):
    name: str
    n_train: int | None  # None: the whole train split
    n_eval: int
    n_recon: int
    checksum: str | None  # None where the cell never loaded the data (skipped, failed early)


class ErrorInfo(TypedDict):
    type: str
    message: str
    traceback: str


class Env(TypedDict):
    git: str
    versions: dict[str, str]
    device: str  # where the cell's model ran: "cpu", "cuda:0", "mps" (adapters.device)
    # torch.are_deterministic_algorithms_enabled() when the record was made
    deterministic_algorithms: NotRequired[bool]
    # the GPU: name, driver, CUDA and cuDNN versions, their determinism settings (off the CPU)
    accelerator: NotRequired[dict[str, Any]]
    device_requested: NotRequired[str]  # the device asked for, where the model ran elsewhere
    device_reason: NotRequired[str]  # why it did
    threads: int
    machine: str
    cpu: str
    jobs: NotRequired[int]  # cells the local executor ran at once (timings depend on it)


class Record(TypedDict):
    schema_version: int
    suite: str
    cell_id: str
    config_hash: str
    adapter: AdapterInfo
    dataset: DatasetInfo
    seed: int
    status: Status
    error: ErrorInfo | None
    metrics: dict[str, float | None]
    metric_config: dict[str, Any]
    op_counts: dict[str, Any] | None
    fit: dict[str, Any] | None
    timing: dict[str, Any]
    env: Env
    artifacts: dict[str, str]
    # the samples' and the test split's class shares under the classifier (ok cells since the
    # coverage metrics): {"classifier": name, "shares": [K floats], "test_shares": [K floats]}
    class_histogram: NotRequired[dict[str, Any]]


def cell_id(label: str, dataset: str, seed: int) -> str:
    return f"{label}__{dataset}__seed{seed}"


def record_path(results_dir: Path, suite: str, cid: str) -> Path:
    return Path(results_dir) / suite / "records" / f"{cid}.json"


def model_path(results_dir: Path, suite: str, cid: str) -> Path:
    """Where a cell's trained model is saved (outside git: ``results/*/models`` is ignored)."""
    return Path(results_dir) / suite / "models" / f"{cid}.pt"


def config_hash(payload: dict[str, Any]) -> str:
    """A stable hash of everything that determines a cell's result."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf become null (a number that is not a number is not a result)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return _clean(value.item())
    return value


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically (:func:`adapters.io.atomic_write_text`).

    Non-finite floats become ``null``; keys keep their insertion order (layers stay in network
    order, and the output is deterministic anyway).
    """
    from adapters.io import atomic_write_text  # imports torch, which reading records needs not

    atomic_write_text(path, json.dumps(_clean(data), indent=2, allow_nan=False) + "\n")


def write_record(results_dir: Path, record: Record) -> Path:
    """Write ``record`` to its place under ``results_dir``; returns the path."""
    path = record_path(results_dir, record["suite"], record["cell_id"])
    write_json_atomic(path, record)
    return path


def read_record(path: Path) -> Record:
    """Read and check one record.

    Raises:
        ValueError: not JSON, wrong schema version, a missing key or a bad status (names the file).
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ValueError(f"record {path} is not UTF-8 text: {err}") from err
    except json.JSONDecodeError as err:
        raise ValueError(f"record {path} is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise ValueError(f"record {path} must hold a JSON object")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"record {path} has schema_version {data.get('schema_version')!r}; "
                         f"this code reads {SCHEMA_VERSION}")
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise ValueError(f"record {path} lacks key(s) {missing}")
    if data["status"] not in STATUSES:
        raise ValueError(f"record {path} has status {data['status']!r}; allowed: {list(STATUSES)}")
    _check_fields(data, Path(path))
    return data  # type: ignore[return-value]  # checked above


def _check_fields(data: Mapping[str, Any], path: Path) -> None:
    for section, names in (("adapter", ("label", "name", "backend", "family")),
                           ("dataset", ("name",))):
        value = data[section]
        if not isinstance(value, Mapping):
            raise ValueError(f"record {path}: {section!r} must be an object, got {value!r}")
        for name in names:
            if not isinstance(value.get(name), str) or not value.get(name):
                raise ValueError(f"record {path}: {section}.{name} must be a non-empty string, "
                                 f"got {value.get(name)!r}")
    seed = data["seed"]
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"record {path}: seed must be an integer, got {seed!r}")
    metrics = data["metrics"]
    if data["status"] == "ok" and not isinstance(metrics, Mapping):
        raise ValueError(f"record {path}: metrics must be an object for status 'ok', "
                         f"got {metrics!r}")
    if isinstance(metrics, Mapping):
        for key, value in metrics.items():
            if value is not None and (isinstance(value, bool)
                                      or not isinstance(value, int | float)):
                raise ValueError(f"record {path}: metrics[{key!r}] must be a number or null, "
                                 f"got {value!r}")


def load_records(folder: Path) -> list[Record]:
    """Every ``*.json`` record in ``folder`` (a suite's ``records`` folder), in file-name order,
    each checked by :func:`read_record`.

    Raises:
        FileNotFoundError: ``folder`` is not a directory.
        ValueError: a record is invalid (names the file).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"records folder {folder} does not exist")
    return [read_record(p) for p in sorted(folder.glob("*.json"))]


def git_revision(repo: Path | None = None) -> str:
    """Short commit of the working tree, with ``+dirty`` when a tracked file outside ``results/``
    has uncommitted changes. ``results/`` is left out: a refresh of the committed reference
    rewrites its records, tables and figures while it runs, and they are outputs, not code."""
    repo = repo or Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                ".", ":(exclude)results"], cwd=repo,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; ``platform.processor()`` elsewhere), or
    ``"unknown"``: the feature network's weights differ between Intel and AMD CPUs."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment(threads: int, placement: Any = None) -> Env:
    """Where a record was measured: code revision, library versions, device, CPU and threads.

    Args:
        threads: the process's torch threads.
        placement: where the cell's model ran (an :class:`adapters.device.Placement` or its
            dict); ``None``: the CPU. Gives ``device``, ``deterministic_algorithms`` and, where
            they apply, ``accelerator``, ``device_requested`` and ``device_reason``
            (:func:`adapters.device.environment`).
    """
    import torch

    from adapters.device import environment as device_environment

    versions = {"python": platform.python_version(), "torch": torch.__version__}
    for mod in ("numpy", "torch_fidelity", "snntorch", "spyker", "tensorflow", "snntoolbox"):
        module = sys.modules.get(mod)
        if module is not None:
            versions[mod] = getattr(module, "__version__", "unknown")
    device = device_environment(placement)
    return {"git": git_revision(), "versions": versions, "device": device.pop("device"),
            **device, "threads": threads,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
            "cpu": cpu_model()}  # type: ignore[typeddict-item]  # keys of device_environment
