"""Check a device against the CPU before trusting its tables: the same suite on both, cell by cell.

Runs a suite (default ``smoke``: six tiny cells, every backend) twice from scratch, once with
``--device DEVICE`` and once with ``--device cpu``, each into its own folder under ``--work-dir``,
then prints, as Markdown on stdout, for every cell: where it ran, its training time on each side
and the speed-up, the difference of its headline metrics (device minus CPU), and the metric that
moved most relative to its CPU value. Op counts should agree exactly wherever the two runs
produced the same spikes; the random draws are the same on both (adapters.device), so what
differs is the device's arithmetic.

    OMP_NUM_THREADS=1 python scripts/device_check.py --device cuda > device_check.md

A maintainer with a GPU runs it before trusting a GPU table. On a machine without one,
``--device cpu`` runs both sides on the CPU: every difference is 0 and the speed-up about 1,
which checks the script itself. Exit status: 1 when a cell failed or is missing on either side,
else 0 (differences are for a person to judge, not a pass mark; a conversion cell is skipped on
both sides where its environment, tox -e conversion, is missing).
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks import records as rec
from benchmarks.metrics import keys as K
from benchmarks.workers import REPO_ROOT

#: The metrics of the table's difference columns, in order.
HEADLINE: tuple[str, ...] = (K.FID, K.FID_AE, K.PRECISION, K.RECALL, K.RECON_MSE, K.SPIKES)
#: Metrics that measure the machine, not the model: left out of the "largest move" column.
MACHINE: frozenset[str] = frozenset({K.TRAIN_SECONDS, K.SAMPLE_THROUGHPUT, K.PEAK_MEMORY_MB})
_COUNTS = (K.SPIKES, K.SYNAPTIC_OPS, K.MACS, K.NEURON_UPDATES)


def run_suite(suite: str, device: str, results_dir: Path, extra: Sequence[str] = ()) -> int:
    """``python -m benchmarks run`` of ``suite`` on ``device`` into ``results_dir`` (every cell
    trained again); returns its exit status."""
    cmd = [sys.executable, "-m", "benchmarks", "run", "--suite", suite, "--device", device,
           "--results-dir", str(results_dir), "--force", "--no-tables", *extra]
    print(f"$ {' '.join(cmd)}", file=sys.stderr)
    return subprocess.run(cmd, cwd=REPO_ROOT).returncode


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def _largest_move(cpu: Mapping[str, Any], other: Mapping[str, Any]) -> tuple[str, float] | None:
    """The metric whose value moved most relative to its CPU value, and by how much (a
    fraction); ``None`` when nothing moved."""
    moves = []
    for key in sorted(set(cpu) & set(other) - MACHINE):
        a, b = _number(cpu[key]), _number(other[key])
        if a is None or b is None or a == b:
            continue
        moves.append((abs(b - a) / abs(a) if a else math.inf, key))
    if not moves:
        return None
    size, key = max(moves)
    return key, size


def compare_records(cpu: Sequence[Mapping[str, Any]],
                    other: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per cell of either run: its status on each side, where the other side ran, the
    training times and speed-up (CPU time / device time), the headline metrics' differences
    (device minus CPU; ``None`` where either side lacks the value), whether the op counts agree,
    and the largest relative move of any model metric.

    Args:
        cpu: the records of the CPU run.
        other: the records of the same suite run on the device.
    """
    by_cell = {r["cell_id"]: r for r in cpu}
    theirs = {r["cell_id"]: r for r in other}
    rows = []
    for cid in sorted(set(by_cell) | set(theirs)):
        a, b = by_cell.get(cid), theirs.get(cid)
        ma = (a or {}).get("metrics") or {}
        mb = (b or {}).get("metrics") or {}
        t_cpu, t_dev = _number(ma.get(K.TRAIN_SECONDS)), _number(mb.get(K.TRAIN_SECONDS))
        diffs = {}
        for key in HEADLINE:
            x, y = _number(ma.get(key)), _number(mb.get(key))
            diffs[key] = None if x is None or y is None else y - x
        counts_equal = None
        if a is not None and b is not None and a.get("op_counts") and b.get("op_counts"):
            counts_equal = all(ma.get(k) == mb.get(k) for k in _COUNTS)
        env = (b or {}).get("env") or {}
        rows.append({
            "cell": cid,
            "status": f"{(a or {}).get('status', 'missing')} / {(b or {}).get('status', 'missing')}",
            "ran_on": env.get("device", "?"),
            "why": env.get("device_reason"),
            "train_cpu": t_cpu, "train_device": t_dev,
            "speedup": t_cpu / t_dev if t_cpu and t_dev else None,
            "diffs": diffs, "counts_equal": counts_equal,
            "largest": _largest_move(ma, mb) if a is not None and b is not None else None,
        })
    return rows


def _fmt(value: float | None, spec: str = ".4g") -> str:
    return "—" if value is None else format(value, spec)


def render(rows: Sequence[Mapping[str, Any]], device: str) -> str:
    """Markdown: the table of :func:`compare_records`' rows, then the reasons of cells that ran
    on the CPU though ``device`` was asked for."""
    names = [K.spec(k).label if k in K.METRICS else k for k in HEADLINE]
    head = ["cell", "cpu / device", "ran on", "train s (cpu / device)", "speed-up",
            *(f"Δ {n}" for n in names), "op counts equal", "largest move"]
    lines = [f"Device check: {device} against the CPU (differences: device minus CPU).", "",
             "| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    notes = []
    for r in rows:
        largest = r["largest"]
        move = "none" if largest is None else f"{largest[0]} {largest[1]:.2%}"
        same = {True: "yes", False: "**no**", None: "—"}[r["counts_equal"]]
        lines.append("| " + " | ".join([
            r["cell"], r["status"], r["ran_on"],
            f"{_fmt(r['train_cpu'], '.1f')} / {_fmt(r['train_device'], '.1f')}",
            _fmt(r["speedup"], ".2f"), *(_fmt(r["diffs"][k]) for k in HEADLINE), same, move,
        ]) + " |")
        if r["why"]:
            notes.append(f"- {r['cell']} ran on {r['ran_on']}: {r['why']}")
    if notes:
        lines += ["", "Cells that ran elsewhere than asked:", *notes]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", required=True,
                        help="the device to check: cuda, cuda:N, mps, auto (or cpu, to check "
                             "this script)")
    parser.add_argument("--suite", default="smoke", help="suite name or file (default: smoke)")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="where the two runs go (default: a temporary folder, removed)")
    parser.add_argument("--adapters", nargs="+", default=None,
                        help="only these entries (as run --adapters)")
    args = parser.parse_args(argv)
    extra = ["--adapters", *args.adapters] if args.adapters else []
    with tempfile.TemporaryDirectory(prefix="sgb-device-check-") as tmp:
        work = args.work_dir or Path(tmp)
        folders = {"device": work / "device", "cpu": work / "cpu"}
        for side, device in (("device", args.device), ("cpu", "cpu")):
            code = run_suite(args.suite, device, folders[side], extra)
            if code not in (0, 1):  # 1: some cell failed, which the table shows
                print(f"the {device} run stopped with exit status {code}", file=sys.stderr)
                return code
        from benchmarks.suites import load_suite

        name = load_suite(args.suite).name
        cpu, other = (rec.load_records(folders[s] / name / "records") for s in ("cpu", "device"))
    rows = compare_records(cpu, other)
    print(render(rows, args.device), end="")
    broken = [r["cell"] for r in rows if "failed" in r["status"] or "missing" in r["status"]]
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
