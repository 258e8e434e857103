"""Cell records: one JSON file per (entry label x dataset x seed), written atomically.

Schema (``schema_version`` 1)::

    schema_version, suite, cell_id, config_hash,
    adapter {label, name, backend, family, config},
    dataset {name, n_train, n_eval, n_recon, checksum},
    seed, status "ok"|"failed"|"skipped", error {type, message, traceback} | null,
    metrics {flat key (benchmarks.metrics.keys) -> float | null},
    metric_config {feature_extractor, feature_net_test_accuracy, n_samples, energy_model, ...},
    op_counts {OpCounts fields} | null, fit {FitReport fields} | null,
    timing {train_seconds, eval_seconds, started, finished},
    env {git, versions, device, threads, machine}, artifacts {name -> repo-relative path}
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
STATUSES = ("ok", "failed", "skipped")
REQUIRED_KEYS = ("schema_version", "suite", "cell_id", "config_hash", "adapter", "dataset", "seed",
                 "status", "error", "metrics", "metric_config", "op_counts", "fit", "timing", "env")


def cell_id(label: str, dataset: str, seed: int) -> str:
    return f"{label}__{dataset}__seed{seed}"


def record_path(results_dir: Path, suite: str, cid: str) -> Path:
    return Path(results_dir) / suite / "records" / f"{cid}.json"


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
    """Write ``data`` as JSON to a temp file beside ``path`` and ``os.replace`` it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            # Insertion order, not sorted keys: layers stay in network order (deterministic anyway).
            json.dump(_clean(data), fh, indent=2, allow_nan=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; records are for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_record(path: Path) -> dict[str, Any]:
    """Read and check one record.

    Raises:
        ValueError: not JSON, wrong schema version, a missing key or a bad status (names the file).
    """
    try:
        data = json.loads(Path(path).read_text())
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
    return data


def git_revision(repo: Path | None = None) -> str:
    """Short commit of the working tree, with ``+dirty`` when it has uncommitted changes."""
    repo = repo or Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
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


def environment(threads: int) -> dict[str, Any]:
    """Where a record was measured: code revision, library versions, device, CPU and threads."""
    import torch

    versions = {"python": platform.python_version(), "torch": torch.__version__}
    for mod in ("numpy", "torch_fidelity", "snntorch", "spyker", "tensorflow", "snntoolbox"):
        module = sys.modules.get(mod)
        if module is not None:
            versions[mod] = getattr(module, "__version__", "unknown")
    device = "cpu"
    if torch.cuda.is_available():
        device = f"cuda: {torch.cuda.get_device_name(0)}"
    return {"git": git_revision(), "versions": versions, "device": device, "threads": threads,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
            "cpu": cpu_model()}
