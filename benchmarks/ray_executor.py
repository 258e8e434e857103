"""Runs a suite's cells as Ray tasks: one cell = one task, on a local Ray instance or a cluster.

The driver (this process) does everything that must happen once or in one place:

1. **Resume.** Cells whose record exists with the same config hash are skipped before anything is
   submitted; when nothing is left to run, Ray is not even started.
2. **Shared data.** The :class:`~benchmarks.runner.DatasetContext` of each data set (images, the
   trained feature network, the FID anchors) is built once here and ``ray.put`` into the object
   store; every task of that data set receives it from there instead of loading the data or
   training the feature network itself.
3. **Records.** A task runs the cell exactly as the local executor does
   (:func:`benchmarks.runner.execute_cell`, so a Python error inside the cell is a ``failed`` record,
   never a crashed task), writes the model and sample grid into a scratch folder of its own node,
   and *returns* the record together with those files. Only the driver writes into
   ``results_dir``: the files first, then the record (atomically, last, so a record never points
   at a missing figure). Each record is written as soon as its task finishes, once, so a finished
   cell is never lost to a later crash of the driver, and a retried task never writes twice. No
   shared file system between the nodes is needed; where a node does see the driver's results
   folder (a local instance, a shared file system), a conversion cell there starts from the ANN
   its twin cell already trained and recorded, as under the local executor.
4. **Dead tasks.** A task whose worker process dies (killed, segfault, out of memory:
   ``WorkerCrashedError``, ``OutOfMemoryError``, any other ``RayError``) is submitted again up to
   ``max_retries`` times by the driver, then recorded as a failed cell whose error names the
   reason and the attempts; the other cells go on.

Ray is an optional dependency, imported only here: ``pip install -e '.[ray]'`` or ``tox -e ray``.
"""

from __future__ import annotations

import logging
import os
import tempfile
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from benchmarks import records as rec
from benchmarks import runner
from benchmarks.runner import DEFAULT_RESULTS, Cell, DatasetContext
from benchmarks.suites import Suite

try:
    import ray
    import ray.exceptions
except ImportError as _err:  # pragma: no cover - depends on the environment
    raise ImportError(
        "the Ray executor needs Ray, which is not installed; install it with: "
        "pip install -e '.[ray]' (or pip install -r requirements/ray.txt), or run through "
        f"tox -e ray ({_err})"
    ) from _err

log = logging.getLogger(__name__)

#: Where a task's scratch results go on its node (removed when the task returns).
_SCRATCH_PREFIX = "sgb-ray-cell-"


def _cell_task(suite: Suite, cell: Cell, chash: str, config: dict[str, Any], ctx: Any,
               context_factory: Callable[[str, Suite], Any],
               results_dir: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The body of one Ray task: run ``cell`` on the shared ``ctx``; return its record and files.

    Args:
        ctx: the data set's context, resolved by Ray from the object store (built by the driver).
        context_factory: never called here (``ctx`` is given); passed so :func:`runner.execute_cell`
            has the same signature as in the local executor.
        results_dir: the driver's results folder, read only: where this node sees it (a local
            instance, a shared file system), a conversion cell starts from its ANN twin's saved
            model (:func:`runner.trained_twins`) instead of training that ANN again; elsewhere
            nothing is found there and the cell trains it.

    Returns:
        The cell's record (status ok, failed or skipped) and the files the cell wrote
        (model, sample grid), as ``{path relative to results_dir: bytes}``.
    """
    torch.set_num_threads(suite.threads)
    os.environ["OMP_NUM_THREADS"] = str(suite.threads)
    with tempfile.TemporaryDirectory(prefix=_SCRATCH_PREFIX) as tmp:
        scratch = Path(tmp)
        record = runner.execute_cell(suite, cell, chash, config, {cell.dataset: ctx}, scratch,
                                     context_factory, twins_from=results_dir)
        files = {p.relative_to(scratch).as_posix(): p.read_bytes()
                 for p in sorted(scratch.rglob("*")) if p.is_file()}
    return record, files


@dataclass
class _Pending:
    index: int
    cell: Cell
    chash: str
    config: dict[str, Any]
    attempt: int  # 1 for the first submission


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_files(results_dir: Path, files: dict[str, bytes]) -> None:
    root = Path(results_dir).resolve()
    for rel, data in files.items():
        target = (root / rel).resolve()
        if root not in target.parents:
            raise ValueError(f"a task returned the file {rel!r}, outside results_dir {root}")
        _write_bytes_atomic(target, data)


def _error_of(err: BaseException) -> tuple[str, str]:
    """The (type, message) recorded for a task that did not return."""
    cause = getattr(err, "cause", None)
    if isinstance(err, ray.exceptions.RayTaskError) and cause is not None:
        return f"RayTaskError({type(cause).__name__})", str(cause)
    return type(err).__name__, str(err).strip()


def _check_feasible(cells: Sequence[Cell], resources: dict[str, float], *, local: bool) -> None:
    """Fail before submitting when a cell asks for more CPUs/GPUs than the cluster has.

    Raises:
        ValueError: on a local instance (which cannot grow), naming the entry and what it has.
    """
    have_cpu, have_gpu = resources.get("CPU", 0.0), resources.get("GPU", 0.0)
    for entry in {c.entry.label: c.entry for c in cells}.values():
        if entry.cpus <= have_cpu and entry.gpus <= have_gpu:
            continue
        msg = (f"entry {entry.label!r} asks for cpus={entry.cpus:g}, gpus={entry.gpus:g}; the "
               f"Ray cluster has CPU={have_cpu:g}, GPU={have_gpu:g}")
        if local:
            raise ValueError(f"{msg}. Lower the entry's cpus/gpus in the suite file (allowed: "
                             f"cpus <= {have_cpu:g}, gpus <= {have_gpu:g}) or pass --address of "
                             f"a cluster that has them")
        log.warning("%s; its tasks wait until the cluster grows (an autoscaler may add nodes)",
                    msg)


def _init_ray(address: str | None, runtime_env: dict[str, Any] | None) -> bool:
    """Connect to ``address`` or start a local instance; returns whether this call started it."""
    if ray.is_initialized():
        if address is not None or runtime_env is not None:
            log.warning("Ray is already initialized in this process; using it as it is "
                        "(address=%r and runtime_env are ignored)", address)
        return False
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": True}
    if runtime_env is not None:
        kwargs["runtime_env"] = runtime_env
    if address is None:
        ray.init(num_cpus=os.cpu_count() or 1, **kwargs)
        log.info("started a local Ray instance with %d CPUs", os.cpu_count() or 1)
    else:
        ray.init(address=address, **kwargs)
        log.info("connected to the Ray cluster at %s", address)
    return True


def run_suite_ray(suite: Suite, cells: Sequence[Cell], *, results_dir: Path = DEFAULT_RESULTS,
                  force: bool = False, address: str | None = None,
                  context_factory: Callable[[str, Suite], Any] | None = None,
                  max_retries: int = 1,
                  runtime_env: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Run ``cells`` of ``suite`` as Ray tasks; returns their records in the order of ``cells``.

    Records land where :func:`benchmarks.runner.run_suite` puts them, in the same format. Each
    task asks Ray for its entry's ``cpus``/``gpus`` and runs with ``suite.threads`` torch threads.
    Progress (stderr) shows cells done, in flight (running or queued for resources), failed and
    retried.

    Args:
        results_dir: the results folder (records under ``<results_dir>/<suite>/records``).
        force: re-run cells even when their record exists with the same config hash.
        address: a Ray cluster address (``ray://host:10001``, ``host:6379`` or ``auto``); ``None``
            starts a local instance with ``os.cpu_count()`` CPUs, shut down on return. If Ray is
            already initialized in this process, that instance is used and left running.
        context_factory: ``(dataset, suite) -> context`` with the attributes of
            :class:`~benchmarks.runner.DatasetContext`; built once per data set in this process
            and shared with the tasks. Tests pass one holding tiny synthetic data.
        max_retries: how many times a task whose worker died is submitted again (>= 0).
        runtime_env: Ray runtime environment for the job (e.g. ``{"working_dir": "."}`` on a
            cluster whose nodes lack this code), used when this call initializes Ray.

    Raises:
        ValueError: ``max_retries`` < 0; an entry asks for more CPUs/GPUs than a local instance
            has; a bad entry config (before anything runs).
    """
    if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
        raise ValueError(f"max_retries must be an int >= 0, got {max_retries!r}")
    context_factory = context_factory or DatasetContext
    torch.set_num_threads(suite.threads)  # the driver builds the contexts (feature networks)
    os.environ.setdefault("OMP_NUM_THREADS", str(suite.threads))
    runner.validate_entries(suite)

    records: list[dict[str, Any] | None] = [None] * len(cells)
    todo: list[_Pending] = []
    for i, p in enumerate(runner.plan(suite, cells, results_dir, force)):
        if p.recorded is not None:
            log.info("skip %s: recorded with the same config", p.cell.cell_id)
            records[i] = p.recorded
        else:
            todo.append(_Pending(i, p.cell, p.chash, p.config, attempt=1))
    if not todo:
        log.info("suite %s: all %d cells are recorded; nothing to run", suite.name, len(cells))
        return [r for r in records if r is not None]

    started_here = _init_ray(address, runtime_env)
    pending: dict[Any, _Pending] = {}
    bar = None
    try:
        _check_feasible([p.cell for p in todo], ray.cluster_resources(),
                        local=started_here and address is None)
        counts = {"ok": 0, "failed": 0, "skipped": 0, "retried": 0}
        bar = tqdm(total=len(cells), initial=len(cells) - len(todo), unit="cell",
                   desc=f"suite {suite.name} (ray)", dynamic_ncols=True)

        def finish(p: _Pending, record: dict[str, Any], files: dict[str, bytes]) -> None:
            _write_files(results_dir, files)
            rec.write_json_atomic(rec.record_path(results_dir, suite.name, p.cell.cell_id), record)
            records[p.index] = record
            counts[record["status"]] += 1
            log.info("%s: %s", p.cell.cell_id, record["status"])
            bar.update(1)

        def show() -> None:
            bar.set_postfix({"in_flight": len(pending), "failed": counts["failed"],
                             "retried": counts["retried"]}, refresh=True)

        env_vars = {"OMP_NUM_THREADS": str(suite.threads), "MKL_NUM_THREADS": str(suite.threads),
                    # A worker's bars would reach this terminal as interleaved log lines.
                    "TQDM_DISABLE": "1", "SPIKEGENBENCH_CELL_PROGRESS": "0"}
        task = ray.remote(_cell_task)

        def submit(p: _Pending, ctx_ref: Any) -> None:
            ref = task.options(num_cpus=p.cell.entry.cpus, num_gpus=p.cell.entry.gpus,
                               max_retries=0, retry_exceptions=False,
                               name=f"cell {p.cell.cell_id}",
                               runtime_env={"env_vars": env_vars}).remote(
                suite, p.cell, p.chash, p.config, ctx_ref, context_factory,
                Path(results_dir).resolve())
            pending[ref] = p

        ctx_refs: dict[str, Any] = {}
        for p in todo:
            if p.cell.dataset not in ctx_refs:
                try:
                    ctx_refs[p.cell.dataset] = ray.put(context_factory(p.cell.dataset, suite))
                except Exception as err:  # every cell of this data set fails, the others go on
                    log.error("data set %s: %s: %s", p.cell.dataset, type(err).__name__, err)
                    ctx_refs[p.cell.dataset] = err
            ctx_ref = ctx_refs[p.cell.dataset]
            if isinstance(ctx_ref, Exception):
                finish(p, runner.make_record(
                    suite, p.cell, p.chash, p.config, status="failed",
                    error={"type": type(ctx_ref).__name__,
                           "message": f"preparing data set {p.cell.dataset!r}: {ctx_ref}",
                           "traceback": "".join(traceback.format_exception(ctx_ref))}), {})
                continue
            submit(p, ctx_ref)
        show()

        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                p = pending.pop(ref)
                try:
                    record, files = ray.get(ref)
                except ray.exceptions.RayError as err:
                    kind, message = _error_of(err)
                    if p.attempt <= max_retries:
                        log.warning("%s: the task died (%s), attempt %d of %d; submitting it "
                                    "again", p.cell.cell_id, kind, p.attempt, max_retries + 1)
                        counts["retried"] += 1
                        submit(_Pending(p.index, p.cell, p.chash, p.config, p.attempt + 1),
                               ctx_refs[p.cell.dataset])
                        continue
                    log.error("%s failed: the task died on all %d attempt(s): %s: %s",
                              p.cell.cell_id, p.attempt, kind, message)
                    record, files = runner.make_record(
                        suite, p.cell, p.chash, p.config, status="failed",
                        error={"type": kind,
                               "message": f"the Ray task running this cell died on all "
                                          f"{p.attempt} attempt(s) ({kind}): {message}",
                               "traceback": "".join(traceback.format_exception(err))}), {}
                finish(p, record, files)
            show()
    finally:
        if bar is not None:
            bar.close()
        for ref in pending:  # interrupted: stop what is still running
            try:
                ray.cancel(ref, force=True)
            except Exception as err:  # already finished or the cluster is gone
                log.debug("cancel %s: %s", pending[ref].cell.cell_id, err)
        if started_here:
            ray.shutdown()
    return [r for r in records if r is not None]
