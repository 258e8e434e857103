"""Command line: ``python -m benchmarks {data,run,tables,check,compare,sample,score,list}``.

stdout is data, stderr is talk: progress bars and logs go to stderr; ``--json`` prints only JSON.

Runs write into ``runs/`` (:data:`benchmarks.records.DEFAULT_RUNS`) unless told otherwise; the
committed reference ``results/`` (:data:`benchmarks.records.DEFAULT_RESULTS`) is written only by
a deliberate ``--results-dir results``, and ``compare`` reads it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from benchmarks import records as rec

log = logging.getLogger("benchmarks")


def _cmd_data(args: argparse.Namespace) -> int:
    from benchmarks import data

    names = list(data.DATASETS) if args.name == "all" else [args.name]
    out = {}
    for name in names:
        folder = data.fetch(name, data_dir=args.data_dir)
        out[name] = {"path": str(folder), "checksum": data.checksum(name)}
        log.info("%s: verified in %s", name, folder)
    if args.json:
        print(json.dumps(out, indent=2))
    return 0


def _device(suite: Any, given: str | None) -> Any:
    """``suite`` with its device resolved on this machine (``given``, a ``--device``, overrides
    the suite file's): a device this machine lacks fails here, before anything trains."""
    import torch

    from adapters.device import resolve_device

    device = resolve_device(suite.device if given is None else given)
    name = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    log.info("device: %s%s", device, name)
    return dataclasses.replace(suite, device=str(device))


def _cmd_run(args: argparse.Namespace) -> int:
    from benchmarks.driver import run_suite
    from benchmarks.executors import Executor
    from benchmarks.plan import select_cells
    from benchmarks.suites import load_suite

    suite = load_suite(args.suite)
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        suite = dataclasses.replace(suite, threads=args.threads)
    suite = _device(suite, args.device)
    cells = select_cells(suite, labels=args.adapters, datasets=args.datasets, seeds=args.seeds)
    if args.jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {args.jobs}")
    if args.jobs > 1 and args.executor == "ray":
        raise ValueError("--jobs is for the local executor; Ray runs as many cells at once as "
                         "the cluster's CPUs allow (each entry's cpus)")
    if args.executor == "ray":
        try:
            from benchmarks.executors.ray import RayExecutor
        except ImportError as err:
            raise SystemExit(f"--executor ray needs Ray: pip install -e '.[ray]' ({err})") from err
        executor: Executor = RayExecutor(args.address)
    elif args.jobs > 1:
        from benchmarks.executors.local import LocalWorkers

        executor = LocalWorkers(args.jobs)
    else:
        from benchmarks.executors.sequential import Sequential

        executor = Sequential()
    _check_writable(Path(args.results_dir) / suite.name / "records")
    _fetch_data(cells, args.data_dir)
    if args.reevaluate and args.force:
        raise ValueError("--reevaluate measures recorded cells again from their saved models; "
                         "--force trains them again: give one of the two")
    records = run_suite(suite, cells, executor, results_dir=args.results_dir, force=args.force,
                        max_retries=args.max_retries, reevaluate=args.reevaluate)
    summary = {r["cell_id"]: r["status"] for r in records}
    failed = [k for k, v in summary.items() if v == "failed"]
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for cid, status in summary.items():
            print(f"{status:8s} {cid}")
    if failed:
        log.error("%d of %d cells failed: %s", len(failed), len(records), ", ".join(failed))
    if not args.no_tables:
        _tables(args.results_dir, suite.name)
    return 1 if failed else 0


def _fetch_data(cells: list[Any], data_dir: Path | None) -> None:
    """Fetch (or verify in the cache) each standard data set of ``cells`` once, before any cell
    runs, so that a data set that cannot be had is one error (exit 2), not one failure per cell.

    ``data_dir`` goes into ``$SPIKEGENBENCH_DATA_DIR`` (absolute), which worker processes inherit.
    """
    from benchmarks import data

    if data_dir is not None:
        os.environ[data.ENV_DATA_DIR] = str(Path(data_dir).expanduser().resolve())
    for name in dict.fromkeys(cell.dataset for cell in cells):
        if name in data.DATASETS:
            data.fetch(name)


def _results_flag(folder: Path) -> str:
    """``" --results-dir FOLDER"`` for a hint, or ``""`` where ``folder`` is the default
    (``runs/``), so that a hint repeats a folder the user chose."""
    return "" if Path(folder).resolve() == rec.DEFAULT_RUNS.resolve() else \
        f" --results-dir {folder}"


def _shown(path: Path) -> str:
    """``path`` as a message shows it: relative to the working folder where it lies inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _check_writable(folder: Path) -> None:
    """Fail before any cell trains when ``folder`` cannot be created or written (OSError)."""
    import tempfile

    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=folder):
        pass


def _tables(results_dir: Path, suite: str,
            energy_models: list[str] | None = None) -> list[Path]:
    from benchmarks.figures import write_figures
    from benchmarks.metrics.energy import TABLE_ENERGY_MODELS
    from benchmarks.tables import load_records, write_tables

    models = tuple(energy_models) if energy_models else TABLE_ENERGY_MODELS
    root = Path(results_dir) / suite
    records = load_records(root / "records")
    written = write_tables(records, root / "tables", models)
    written += write_figures(records, root / "figures", models)
    for path in written:
        log.info("wrote %s", path)
    return written


def _cmd_tables(args: argparse.Namespace) -> int:
    from benchmarks.metrics.energy import get_energy_model
    from benchmarks.suites import suite_path

    name = args.suite
    for model in args.energy_model or ():
        get_energy_model(model)  # an unknown name fails before any record is read
    if not (Path(args.results_dir) / name / "records").is_dir():
        suite_path(name)  # a clear error for a typo
        raise FileNotFoundError(f"no records for suite {name!r} under {args.results_dir}; run: "
                                f"python -m benchmarks run --suite {name}"
                                f"{_results_flag(args.results_dir)}")
    written = _tables(args.results_dir, name, args.energy_model)
    if args.json:
        print(json.dumps([str(p) for p in written], indent=2))
    return 0


def _suite_records(folder: Path, suite: Any, flag: str, hint: str, *,
                   scored: bool = False) -> list[dict[str, Any]]:
    """The records of ``suite``'s current cells under results folder ``folder`` (given as
    ``flag``); records of cells no longer in the suite are left out with a warning.

    Args:
        scored: keep the records ``score`` wrote too (backend ``external``: samples made outside
            the suite), which belong to no cell of the suite.

    Raises:
        FileNotFoundError: no records folder of the suite there (``hint`` says what to do).
    """
    from benchmarks.plan import select_cells
    from benchmarks.score import EXTERNAL
    from benchmarks.tables import load_records

    records_dir = Path(folder) / suite.name / "records"
    if not records_dir.is_dir():
        raise FileNotFoundError(f"no records for suite {suite.name!r} under {folder} ({flag}); "
                                f"{hint}")
    expected = {cell.cell_id for cell in select_cells(suite)}
    records = load_records(records_dir)
    keep = [r["cell_id"] in expected or (scored and r["adapter"]["backend"] == EXTERNAL)
            for r in records]
    kept = [r for r, k in zip(records, keep, strict=True) if k]
    stray = sorted(r["cell_id"] for r, k in zip(records, keep, strict=True) if not k)
    if stray:
        log.warning("ignoring %d record(s) of cells no longer in suite %r under %s: %s",
                    len(stray), suite.name, folder, ", ".join(stray))
    return kept


def _run_hint(suite: str, folder: Path) -> str:
    return (f"run it first: python -m benchmarks run --suite {suite}{_results_flag(folder)} "
            f"--no-tables")


def _cmd_check(args: argparse.Namespace) -> int:
    from benchmarks import check
    from benchmarks.plan import select_cells
    from benchmarks.suites import load_suite

    suite = load_suite(args.suite)
    expected = {cell.cell_id for cell in select_cells(suite)}

    def suite_records(folder: Path, flag: str) -> list[dict[str, Any]]:
        return _suite_records(folder, suite, flag, _run_hint(args.suite, folder))

    records = suite_records(args.results_dir, "--results-dir")
    if args.pool_results_dir and not args.update_baseline:
        raise SystemExit("--pool-results-dir only goes with --update-baseline (it adds runs to "
                         "the baseline being written; a check compares one fresh run)")
    if args.update_baseline:
        pool = [suite_records(folder, "--pool-results-dir") for folder in args.pool_results_dir]
        baseline = check.build_baseline(records, suite.name, expected_cells=expected, pool=pool)
        check.write_baseline(args.baseline, baseline)
        print(json.dumps(baseline, indent=2, sort_keys=True) if args.json
              else check.render_baseline(baseline))
        log.info("wrote baseline %s from %d cells of suite %r", args.baseline, len(records),
                 suite.name)
        return 0
    baseline = check.load_baseline(args.baseline, suite=suite.name)
    result = check.compare(baseline, records)
    print(json.dumps(result.to_dict(), indent=2) if args.json else check.render_result(result))
    if not result.passed:
        log.error("metric check of suite %r failed against %s:\n%s", suite.name, args.baseline,
                  "\n".join(f"  {f.message}" for f in result.failures))
        return 1
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from adapters.io import atomic_write_text
    from benchmarks import check
    from benchmarks.plan import select_cells
    from benchmarks.suites import load_suite

    suite = load_suite(args.suite)
    cells = select_cells(suite, labels=args.adapters, datasets=args.datasets, seeds=args.seeds)
    reference = _suite_records(args.reference, suite, "--reference",
                               "pass the folder of the reference results with --reference DIR")
    # scored rows (python -m benchmarks score) are listed as cells the reference does not have
    records = _suite_records(args.run_dir, suite, "--run-dir", _run_hint(args.suite, args.run_dir),
                             scored=True)
    # runs of the suite on other kinds of CPU, each under its own feature networks
    pool_dir = Path(args.reference) / suite.name / "pool"
    pools = {p.name: _suite_records(p, suite, "--reference", "")
             for p in sorted(pool_dir.glob("*")) if (p / suite.name / "records").is_dir()}
    reference, pooled = check.match_reference(reference, pools, records)
    pooled_dirs = {dataset: pool_dir / name / suite.name for dataset, name in pooled.items()}
    for dataset, folder in pooled_dirs.items():
        log.info("%s: compared with the pooled reference %s, measured with the run's feature "
                 "network", dataset, folder)
    run_it = f"run it: python -m benchmarks run --suite {args.suite}{_results_flag(args.run_dir)}"
    comparison = check.compare_runs(
        reference, records, suite.name,
        expected=[(cell.entry.label, cell.dataset, cell.seed) for cell in cells],
        wording=dataclasses.replace(check.COMPARE_WORDING, missing_hint=run_it))
    text = check.render_comparison(
        comparison, run=_shown(Path(args.run_dir) / suite.name),
        reference=_shown(Path(args.reference) / suite.name),
        pooled={dataset: _shown(folder) for dataset, folder in pooled_dirs.items()})
    out = args.out or Path(args.run_dir) / suite.name / "tables" / "comparison.md"
    atomic_write_text(out, text)
    if args.json:
        print(json.dumps({**comparison.to_dict(), "pooled_reference": {
            dataset: str(folder) for dataset, folder in pooled_dirs.items()}}, indent=2))
    else:
        print(text, end="")
    log.info("wrote %s", out)
    if not comparison.passed:
        log.error("the run of suite %r differs from the reference %s: %d problem(s), listed "
                  "in %s", suite.name, args.reference, len(comparison.result.failures), out)
        return 1
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from adapters.io import IntegrityError, atomic_path
    from benchmarks.records import cell_id
    from benchmarks.sample_worker import sample_isolated, sample_saved
    from benchmarks.suites import load_suite

    suite = _device(load_suite(args.suite), args.device)
    entry = suite.entry(args.adapter) if args.adapter in {e.label for e in suite.entries} else \
        next((e for e in suite.entries if e.adapter == args.adapter), None)
    if entry is None:
        raise SystemExit(f"suite {suite.name!r} has no entry {args.adapter!r}; "
                         f"entries: {[e.label for e in suite.entries]}")
    out = Path(args.out)
    if out.suffix != ".npz" or out.is_dir():
        raise ValueError(f"--out must name a .npz file, got {str(out)!r}")
    # A backend that lives in its own environment (conversion: TensorFlow) samples there, as
    # `run` trains it there; any other missing library fails below, naming how to install it.
    python = _isolated_sampler(entry.adapter)
    model_file = Path(args.results_dir) / suite.name / "models" / \
        f"{cell_id(entry.label, args.dataset, args.seed)}.pt"
    retrain = (f"python -m benchmarks run --suite {suite.name} --adapters {entry.label} "
               f"--datasets {args.dataset} --seeds {args.seed}{_results_flag(args.results_dir)}")
    if not model_file.is_file():
        raise SystemExit(f"no trained model at {model_file}; train it with: {retrain}")
    try:
        if python is None:
            images = sample_saved(entry.adapter, entry.config, model_file, args.n,
                                  args.sample_seed, device=suite.device)
        else:
            log.info("sampling %s under %s", entry.adapter, python)
            images = sample_isolated(python, entry.adapter, entry.config, model_file, args.n,
                                     args.sample_seed, threads=suite.threads, device=suite.device)
    except IntegrityError as err:
        raise ValueError(f"{err}; train it again with: {retrain} --force") from err
    uint8 = (images.squeeze(1).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    with atomic_path(out) as tmp:
        np.savez_compressed(tmp, images=uint8)
    log.info("wrote %d samples (%s) to %s", args.n, "x".join(map(str, uint8.shape)), out)
    if args.json:
        print(json.dumps({"out": str(out), "shape": list(uint8.shape)}))
    return 0


def _isolated_sampler(adapter: str) -> Path | None:
    """The Python to sample ``adapter`` in: its backend's own environment where the backend's
    libraries are missing here and it has one, else ``None`` (this process).

    Raises:
        ImportError: the libraries are missing here and the backend, which runs in an
            environment of its own, has none (names the tox environment that installs it).
    """
    import adapters
    from benchmarks.execute import isolated_python

    missing = adapters.missing_libraries(adapter)
    if not missing:
        return None
    backend = adapters.backend_of(adapter)
    python = isolated_python(backend)
    env = adapters.ISOLATED_BACKENDS.get(backend)
    if python is None and env is not None:
        raise ImportError(f"{adapter} needs {missing}, which are not installed here, and its "
                          f"environment was not found; create it with: tox -e {env} (or set "
                          f"SPIKEGENBENCH_{backend.upper()}_PYTHON to its python)")
    return python


def _cmd_list(args: argparse.Namespace) -> int:
    """Every adapter with where it comes from (built-in, or a plugin's entry point and
    distribution; a plugin that cannot be used with its problem), and the suites."""
    import adapters
    from benchmarks.suites import available_suites

    sources = adapters.sources()
    if args.json:
        for source in sources:
            if source.problem:
                log.warning("%s", source.problem)
        print(json.dumps({"adapters": adapters.available(), "suites": available_suites(),
                          "sources": [dataclasses.asdict(s) for s in sources]}, indent=2))
        return 0
    rows = [(s.name, "built-in" if s.origin == "built-in" else f"plugin of {s.distribution}",
             s.target, s.problem) for s in sources]
    widths = [max(len(row[i]) for row in rows) for i in (0, 1)]
    print("adapters (name, where it comes from, module:Class):")
    for name, where, target, problem in rows:
        print(f"  {name:<{widths[0]}}  {where:<{widths[1]}}  {target}")
        if problem:
            print(f"  {'':<{widths[0]}}  CANNOT BE USED: {problem}")
    print("suites: " + ", ".join(available_suites()))
    return 0


def _cmd_score(args: argparse.Namespace) -> int:
    """Score samples made outside the suite on a suite's protocol and write their record."""
    from benchmarks import data
    from benchmarks.execute import apply_threads
    from benchmarks.metrics import keys as K
    from benchmarks.score import check_label, load_ops, load_samples, score, write
    from benchmarks.suites import load_suite

    suite = _device(load_suite(args.suite), args.device)
    check_label(args.label, suite)
    if args.dataset not in suite.datasets:
        raise ValueError(f"--dataset {args.dataset!r} is not a data set of suite {suite.name!r}; "
                         f"allowed: {list(suite.datasets)}")
    samples = load_samples(args.samples, n_min=suite.n_eval)
    ops = load_ops(args.ops) if args.ops is not None else None
    _check_writable(Path(args.results_dir) / suite.name / "records")
    if args.data_dir is not None:
        os.environ[data.ENV_DATA_DIR] = str(Path(args.data_dir).expanduser().resolve())
    data.fetch(args.dataset)
    apply_threads(suite.threads)
    record = score(samples, suite=suite, dataset=args.dataset, label=args.label,
                   family=args.family, seed=args.seed, ops=ops, results_dir=args.results_dir,
                   source=str(args.samples))
    path = write(record, args.results_dir)
    metrics = record["metrics"]
    if args.json:
        print(json.dumps({"record": str(path), "metrics": metrics}, indent=2))
    else:
        for key in (K.FID, K.FID_AE, K.KID, K.PRECISION, K.RECALL, K.CLASSES_AT_5PCT,
                    K.TOP_CLASS_SHARE, K.FID_DATA_FLOOR, K.FID_NOISE_CEILING, K.SPIKES,
                    K.SYNAPTIC_OPS, K.MACS, K.ENERGY_NJ, K.ENERGY_RATIO):
            value = metrics.get(key)
            print(f"{K.spec(key).label:<16} {'—' if value is None else K.spec(key).format(value)}")
        print(f"record: {_shown(path)}")
    log.info("its row is in: python -m benchmarks tables --suite %s%s", suite.name,
             _results_flag(args.results_dir))
    return 0


_DEVICE_HELP = ("where cells train and are measured: auto (a CUDA GPU where torch sees one, else "
                "the CPU), cpu, cuda, cuda:N or mps (default: the suite's device; cpu for smoke, "
                "ci and quick, auto for full). Recorded in each record's env, in no config hash; "
                "a backend that cannot use it (stdp, conversion) runs on the CPU and its record "
                "says why. With --executor ray a cell runs on the GPU Ray gives it (its entry's "
                "gpus > 0), else on the CPU")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description="SpikeGenBench: generative SNN benchmark suite")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("data", help="fetch and verify data sets")
    p.add_argument("action", choices=["fetch"])
    p.add_argument("name", choices=["mnist", "fashion-mnist", "all"])
    p.add_argument("--data-dir", default=None,
                   help="folder with idx files you already have (or SPIKEGENBENCH_DATA_DIR)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_data)

    p = sub.add_parser("run", help="run a suite's cells and write records, tables and figures")
    p.add_argument("--suite", required=True, help="suite name (benchmarks/suites/*.toml) or path")
    p.add_argument("--adapters", nargs="+", default=None,
                   help="entry labels (that entry only) or adapter names (every entry of it)")
    p.add_argument("--datasets", nargs="+", default=None)
    p.add_argument("--seeds", nargs="+", type=int, default=None)
    p.add_argument("--results-dir", type=Path, default=rec.DEFAULT_RUNS,
                   help="where records, models, tables and figures go (default: runs/; the "
                        "committed reference results/ only by a deliberate refresh)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="folder with idx files you already have (sets SPIKEGENBENCH_DATA_DIR "
                        "for every cell's process)")
    p.add_argument("--force", action="store_true", help="re-run cells that are already recorded")
    p.add_argument("--no-tables", action="store_true", help="do not rebuild tables afterwards")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads per cell instead of the suite's (recorded in each record)")
    p.add_argument("--executor", choices=["local", "ray"], default="local")
    p.add_argument("--jobs", type=int, default=1,
                   help="local executor: cells run at once, each in its own worker process "
                        "(default 1: one after another in this process); keep jobs x threads "
                        "<= cores")
    p.add_argument("--address", default=None, help="Ray cluster address (with --executor ray)")
    p.add_argument("--reevaluate", action="store_true",
                   help="train nothing: measure every recorded ok cell again from its saved model "
                        "(for metrics added since); its recorded numbers must come back exactly")
    p.add_argument("--device", default=None, metavar="DEVICE", help=_DEVICE_HELP)
    p.add_argument("--max-retries", type=int, default=1,
                   help="with --jobs > 1 or --executor ray: times a cell whose worker process "
                        "died is run again (default 1)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("tables", help="build tables and figures from a suite's records")
    p.add_argument("--suite", required=True)
    p.add_argument("--results-dir", type=Path, default=rec.DEFAULT_RUNS,
                   help="the --results-dir of the run (default: runs/)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--energy-model", nargs="+", metavar="NAME",
                   help="energy models of the energy columns and figure panels, computed from the "
                        "records' op counts (default: fp32-compute memory-aware; known: "
                        "fp32-compute, int8-compute, memory-aware, each may end in ':effective')")
    p.set_defaults(func=_cmd_tables)

    p = sub.add_parser("check", help="compare a suite's records with its committed baseline "
                                     "(exit 1 when a metric got worse beyond its tolerance)")
    p.add_argument("--suite", required=True, help="suite name (benchmarks/suites/*.toml) or path")
    p.add_argument("--baseline", type=Path, required=True,
                   help="baseline JSON, e.g. results/ci/baseline.json")
    p.add_argument("--results-dir", type=Path, default=rec.DEFAULT_RUNS,
                   help="where the suite's records are (the --results-dir of its run; default: "
                        "runs/)")
    p.add_argument("--update-baseline", action="store_true",
                   help="write the baseline from these records instead of checking them "
                        "(refused unless every cell of the suite is ok)")
    p.add_argument("--pool-results-dir", type=Path, action="append", default=[],
                   metavar="DIR",
                   help="with --update-baseline: also pool this complete run of the same code "
                        "(e.g. made on another kind of CPU) into the baseline's means and "
                        "tolerances; repeatable")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("compare", help="compare each cell of a run with the committed reference "
                                       "results, by the check's rules (exit 1 when a value is "
                                       "outside its tolerance or a cell is missing or failed)")
    p.add_argument("--suite", required=True, help="suite name (benchmarks/suites/*.toml) or path")
    p.add_argument("--run-dir", type=Path, default=rec.DEFAULT_RUNS,
                   help="the run's results folder (its --results-dir; default: runs/)")
    p.add_argument("--reference", type=Path, default=rec.DEFAULT_RESULTS,
                   help="the reference results folder (default: the committed results/); a "
                        "data set measured with another feature network than its "
                        "SUITE/records is compared with the run in SUITE/pool/NAME that was "
                        "measured with the run's (another kind of CPU's reference)")
    p.add_argument("--out", type=Path, default=None,
                   help="where the Markdown comparison goes (default: "
                        "RUN_DIR/SUITE/tables/comparison.md)")
    p.add_argument("--adapters", nargs="+", default=None,
                   help="compare only these entries (as run --adapters)")
    p.add_argument("--datasets", nargs="+", default=None,
                   help="compare only these data sets (as run --datasets)")
    p.add_argument("--seeds", nargs="+", type=int, default=None,
                   help="compare only these seeds (as run --seeds): the reference's other seeds "
                        "still make its mean ± std, and their absence from the run is no failure")
    p.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("sample", help="write fresh samples from a trained cell's saved model")
    p.add_argument("--suite", required=True)
    p.add_argument("--adapter", required=True, help="entry label or adapter name")
    p.add_argument("--dataset", required=True)
    p.add_argument("--seed", type=int, required=True, help="the cell's training seed")
    p.add_argument("-n", type=int, default=100, help="number of samples")
    p.add_argument("--sample-seed", type=int, default=12345, help="seed of the Bernoulli noise")
    p.add_argument("--out", required=True, help="output .npz (images: uint8 N x 28 x 28)")
    p.add_argument("--results-dir", type=Path, default=rec.DEFAULT_RUNS,
                   help="the --results-dir of the run that trained it (default: runs/)")
    p.add_argument("--device", default=None, metavar="DEVICE",
                   help="where the model samples: auto, cpu, cuda, cuda:N or mps (default: the "
                        "suite's device); the noise is the same on every device")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_sample)

    p = sub.add_parser("score", help="score samples made outside the suite on a suite's "
                                     "protocol (FID/KID/PR in both feature spaces, class "
                                     "coverage; energy from --ops) and write their record")
    p.add_argument("--dataset", required=True, help="the data set the samples imitate")
    p.add_argument("--samples", type=Path, required=True,
                   help=".npz (array 'images' or the only array), .npy, or a folder of 28x28 "
                        "grayscale .png files: uint8 or float in [0, 1], N x 28 x 28 or "
                        "N x 1 x 28 x 28, N >= the suite's n_eval (its first n_eval are scored)")
    p.add_argument("--ops", type=Path, default=None,
                   help="JSON of per-sample counts: macs, synaptic_ops, spikes, neuron_updates "
                        "(optional: timesteps, firing_rate, spikes_per_layer, "
                        "neurons_per_layer); without it the energy columns are empty")
    p.add_argument("--label", default="external", help="the row's name (default: external)")
    p.add_argument("--family", choices=["vae", "gan", "autoencoder", "diffusion"], default="gan",
                   help="the ANN baseline the energy ratio is taken against (default: gan)")
    p.add_argument("--seed", type=int, default=0,
                   help="the seed the samples were made with (the record's seed; default 0)")
    p.add_argument("--suite", default="quick",
                   help="whose protocol (n_eval, energy model) and records (default: quick)")
    p.add_argument("--results-dir", type=Path, default=rec.DEFAULT_RUNS,
                   help="where the record goes (default: runs/)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="folder with idx files you already have (or SPIKEGENBENCH_DATA_DIR)")
    p.add_argument("--device", default=None, metavar="DEVICE",
                   help="where the feature networks run: auto, cpu, cuda, cuda:N or mps "
                        "(default: the suite's device)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_score)

    p = sub.add_parser("list", help="list adapters (built-in and plugins, with where each comes "
                                    "from) and suites")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except (ValueError, ImportError, OSError) as err:
        # expected failures (bad input, a missing optional backend, a path that cannot be read
        # or written) are one line naming the problem; anything else is a bug and keeps its
        # traceback
        log.error("%s", err)
        return 2
    except KeyboardInterrupt:
        log.error("interrupted; finished cells are recorded and a re-run resumes from them")
        return 130


if __name__ == "__main__":
    sys.exit(main())
