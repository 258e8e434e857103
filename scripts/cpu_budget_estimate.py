"""What the full suite costs on a CPU, cell by cell: measured where a full cell was run, else
estimated from the quick suite's measured times.

Prints Markdown on stdout: for every entry of the full suite and data set, the time of one cell
(one seed) in hours, and whether it was measured (a record in ``--full``) or estimated, then the
whole suite's CPU time. The estimate of a cell, from the quick suite's records of the same
adapter and data set (mean over their seeds):

* training: seconds per epoch (``timing.train_seconds / fit.epochs``) x the full entry's epochs,
  x ``T_full / T_quick`` for the surrogate rows (their cost is linear in ``T``: 2.0-2.1x from
  ``T = 8`` to ``16`` in the sweep suite's records); a conversion cell adds its conversion and
  sweep seconds to its ANN's training; ``stdp-ae`` scales its encoding and decoder fit by
  ``n_encode`` and its EM by ``n_encode x n_components``;
* sampling, reconstruction and evaluation: the quick cell's (the same 10,000 samples), x the
  ``T`` ratio for the surrogate rows.

Rows no quick cell resembles (the convolutional surrogate rows) are not estimated. Quick cells
ran on one thread, two at once on a 2-core Intel Xeon; the full suite asks for 2 threads.

    python scripts/cpu_budget_estimate.py > budget.md
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks import records as rec
from benchmarks.plan import full_config
from benchmarks.suites import load_suite

_PHASES = ("sample_seconds", "recon_seconds", "eval_seconds")


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def quick_profile(records: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (adapter label, data set): the quick cells' mean seconds per epoch, their other phases,
    their ``T`` and their fit extras (means over seeds)."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for r in records:
        if r["status"] == "ok" and r.get("fit"):
            groups[(r["adapter"]["label"], r["dataset"]["name"])].append(r)
    out = {}
    for key, cells in groups.items():
        extras = defaultdict(list)
        for r in cells:
            for name, value in (r["fit"].get("extra") or {}).items():
                if isinstance(value, int | float):
                    extras[name].append(float(value))
        out[key] = {
            "per_epoch": _mean([r["timing"]["train_seconds"] / r["fit"]["epochs"] for r in cells]),
            "other": {p: _mean([r["timing"].get(p) or 0.0 for r in cells]) for p in _PHASES},
            "timesteps": cells[0]["adapter"]["config"].get("timesteps"),
            "config": cells[0]["adapter"]["config"],
            "extra": {k: _mean(v) for k, v in extras.items()},
        }
    return out


def estimate(adapter: str, config: Mapping[str, Any],
             quick: Mapping[str, Any]) -> float | None:
    """Seconds of one full cell of ``adapter`` with full ``config`` from its quick profile."""
    other = sum(quick["other"].values())
    if adapter.startswith("surrogate"):
        if config.get("architecture", "mlp") != quick["config"].get("architecture", "mlp"):
            return None
        ratio = config["timesteps"] / quick["timesteps"]
        return (quick["per_epoch"] * config["epochs"] + other) * ratio
    if adapter == "stdp-ae":
        extra, q = quick["extra"], quick["config"]
        scale = config["n_encode"] / q["n_encode"]
        em = extra.get("em_seconds", 0.0) * scale * config["n_components"] / q["n_components"]
        return (extra.get("stdp_seconds_l1", 0.0) + extra.get("stdp_seconds_l2", 0.0)
                + (extra.get("encode_seconds", 0.0) + extra.get("decoder_seconds", 0.0)) * scale
                + em + other)
    if adapter.startswith("conversion"):
        extra = quick["extra"]
        ann_epoch = extra.get("ann_train_seconds", 0.0) / quick["config"]["epochs"]
        return (ann_epoch * config["epochs"] + extra.get("conversion_seconds", 0.0)
                + extra.get("sweep_seconds", 0.0) + other)
    return quick["per_epoch"] * config["epochs"] + other


def table(full_suite: Any, quick: Mapping[tuple[str, str], Mapping[str, Any]],
          measured: Sequence[Mapping[str, Any]]) -> str:
    """The Markdown table of every full entry x data set (see the module docstring)."""
    done = {(r["adapter"]["label"], r["dataset"]["name"]): r for r in measured
            if r["status"] == "ok" and r["seed"] == 0}
    lines = ["| row | " + " | ".join(full_suite.datasets) + " | how |",
             "|---|" + "---:|" * len(full_suite.datasets) + "---|"]
    total, missing = 0.0, []
    for entry in full_suite.entries:
        config = full_config(entry)
        cells, how = [], set()
        for dataset in full_suite.datasets:
            record = done.get((entry.label, dataset))
            if record is not None:
                t = record["timing"]
                seconds = t["train_seconds"] + sum(t.get(p) or 0.0 for p in _PHASES)
                how.add("measured (full, seed 0)")
            else:
                profile = quick.get((entry.adapter, dataset))
                seconds = None if profile is None else estimate(entry.adapter, config, profile)
                how.add("estimated from quick" if seconds is not None else "not estimated")
            cells.append(seconds)
            if seconds is None:
                missing.append(f"{entry.label} ({dataset})")
            else:
                twin = entry.adapter.startswith("conversion")  # its ANN is the ann row's cell
                total += (seconds - (0 if not twin else _twin_share(quick, entry, dataset,
                                                                    config))) * len(
                    entry.seeds or full_suite.seeds)
        lines.append(f"| `{entry.label}` | " + " | ".join(
            "—" if s is None else f"{s / 3600:.2f} h" for s in cells) + f" | {', '.join(sorted(how))} |")
    lines += ["", f"All cells of the suite (every seed; a conversion's ANN counted once, with its "
              f"`ann-*` row): about **{total / 3600:.0f} CPU hours**"
              + (f", without {', '.join(missing)}." if missing else ".")]
    return "\n".join(lines) + "\n"


def _twin_share(quick: Mapping[tuple[str, str], Mapping[str, Any]], entry: Any, dataset: str,
                config: Mapping[str, Any]) -> float:
    """The ANN training inside a conversion cell's estimate (reused from its twin's cell)."""
    profile = quick[(entry.adapter, dataset)]
    return profile["extra"].get("ann_train_seconds", 0.0) / profile["config"]["epochs"] * \
        config["epochs"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", type=Path, default=rec.DEFAULT_RESULTS / "quick" / "records",
                        help="the quick suite's records (default: the committed reference)")
    parser.add_argument("--full", type=Path, default=rec.DEFAULT_RESULTS / "full" / "records",
                        help="full-suite records measured so far (default: the reference's)")
    args = parser.parse_args(argv)
    quick = quick_profile(rec.load_records(args.quick))
    measured = rec.load_records(args.full) if args.full.is_dir() else []
    print(table(load_suite("full"), quick, measured), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
