"""Runs a suite's cells in ``jobs`` worker processes on this machine (``run --jobs N``).

Each worker is a fresh (spawned) Python process that runs one cell at a time, exactly as the
sequential runner does (:func:`benchmarks.runner.execute_cell`), with ``suite.threads`` torch
threads. A worker prepares each data set's context (data, feature network, FID anchors) once and
keeps it for every later cell of that data set. The parent process assigns cells to idle
workers, and it alone writes records, each atomically as soon as its cell is done, so an
interrupted run keeps every finished cell and resumes from there.

A worker that dies in the middle of a cell (killed, out of memory, a crash in native code) costs
only that cell: it is run again in a new worker up to ``max_retries`` times, then recorded as a
failed cell whose error names the exit code; the other workers go on. Workers end with the parent:
on SIGTERM or Ctrl-C it stops them, and a worker whose parent was killed outright exits by itself
within a second.

Why not :class:`concurrent.futures.ProcessPoolExecutor`: when one of its workers dies, it fails
every pending future at once, so it cannot tell which cell killed it.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

import adapters
from benchmarks import records as rec
from benchmarks import runner
from benchmarks.runner import DEFAULT_RESULTS, Cell, DatasetContext
from benchmarks.suites import Suite

log = logging.getLogger(__name__)


def _exit_with(parent: int) -> None:
    """End this worker soon after the parent process ``parent`` is gone, even mid-cell (the
    parent may have been killed without the chance to stop its workers)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(3)


def _worker_main(conn: Connection, registry: dict[str, str], threads: int,
                 context_factory: Callable[[str, Suite], Any], results_dir: Path,
                 parent: int) -> None:
    """A worker's loop: receive ``(suite, cell, chash, config)``, send back the cell's record."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    torch.set_num_threads(threads)
    adapters.ADAPTERS.update(registry)  # adapters the parent registered at run time
    os.environ["SPIKEGENBENCH_CELL_PROGRESS"] = "0"  # N workers' bars would interleave
    runner.CELL_PROGRESS = False
    contexts: dict[str, Any] = {}
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        suite, cell, chash, config = job
        conn.send(runner.execute_cell(suite, cell, chash, config, contexts, results_dir,
                                      context_factory))


@dataclass
class _Job:
    index: int
    cell: Cell
    chash: str
    config: dict[str, Any]
    attempt: int = 1


@dataclass
class _Worker:
    process: Any
    conn: Connection
    job: _Job | None = None
    dead: bool = field(default=False)


def run_suite_parallel(suite: Suite, cells: Sequence[Cell], *, jobs: int,
                       results_dir: Path = DEFAULT_RESULTS, force: bool = False,
                       context_factory: Callable[[str, Suite], Any] | None = None,
                       max_retries: int = 1) -> list[dict[str, Any]]:
    """Run ``cells`` of ``suite`` in ``jobs`` worker processes; returns their records in order.

    Records land where :func:`benchmarks.runner.run_suite` puts them, in the same format and with
    the same numbers (every cell seeds itself; a worker runs ``suite.threads`` threads).

    Args:
        jobs: worker processes (>= 1); on a machine with C cores, ``jobs * suite.threads <= C``.
        context_factory: ``(dataset, suite) -> context``, called in the workers; it must be
            importable by a fresh Python process (a module-level class or function).
        max_retries: how many times a cell whose worker died is run again (>= 0).

    Raises:
        ValueError: ``jobs`` < 1 or ``max_retries`` < 0; a bad entry config (before anything runs).
    """
    for name, value, low in (("jobs", jobs, 1), ("max_retries", max_retries, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    context_factory = context_factory or DatasetContext
    runner.validate_entries(suite)
    records: list[dict[str, Any] | None] = [None] * len(cells)
    queue: list[_Job] = []
    for i, p in enumerate(runner.plan(suite, cells, results_dir, force)):
        if p.recorded is not None:
            log.info("skip %s: recorded with the same config", p.cell.cell_id)
            records[i] = p.recorded
        else:
            queue.append(_Job(i, p.cell, p.chash, p.config))
    if not queue:
        log.info("suite %s: all %d cells are recorded; nothing to run", suite.name, len(cells))
        return [r for r in records if r is not None]

    spawn = mp.get_context("spawn")
    threads = str(suite.threads)
    saved_env = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    os.environ.update({"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads})  # for the spawn

    def start_worker() -> _Worker:
        parent_end, child_end = spawn.Pipe()
        proc = spawn.Process(target=_worker_main, name="sgb-cell-worker", daemon=True,
                             args=(child_end, dict(adapters.ADAPTERS), suite.threads,
                                   context_factory, Path(results_dir), os.getpid()))
        proc.start()
        child_end.close()
        return _Worker(proc, parent_end)

    queue.reverse()  # pop() from the end keeps the suite's order
    workers: list[_Worker] = []
    counts = {"ok": 0, "failed": 0, "skipped": 0, "retried": 0}
    bar = tqdm(total=len(cells), initial=len(cells) - len(queue), unit="cell",
               desc=f"suite {suite.name} (jobs {jobs})", dynamic_ncols=True)

    def finish(job: _Job, record: dict[str, Any]) -> None:
        record["env"]["jobs"] = jobs  # cells running beside it (its timings depend on it)
        rec.write_json_atomic(rec.record_path(results_dir, suite.name, job.cell.cell_id), record)
        records[job.index] = record
        counts[record["status"]] += 1
        log.info("%s: %s", job.cell.cell_id, record["status"])
        bar.update(1)

    def show() -> None:
        running = [w.job.cell.cell_id for w in workers if w.job is not None]
        bar.set_postfix({"running": ", ".join(running) or "-", "failed": counts["failed"],
                         "retried": counts["retried"]}, refresh=True)

    def died(worker: _Worker) -> None:
        job, code = worker.job, worker.process.exitcode
        worker.job, worker.dead = None, True
        worker.conn.close()
        if job is None:
            return
        if job.attempt <= max_retries:
            log.warning("%s: its worker died (exit code %s), attempt %d of %d; running it again",
                        job.cell.cell_id, code, job.attempt, max_retries + 1)
            counts["retried"] += 1
            queue.append(_Job(job.index, job.cell, job.chash, job.config, job.attempt + 1))
            return
        log.error("%s failed: its worker died on all %d attempt(s) (exit code %s)",
                  job.cell.cell_id, job.attempt, code)
        finish(job, runner.make_record(
            suite, job.cell, job.chash, job.config, status="failed",
            error={"type": "WorkerDied", "traceback": "",
                   "message": f"the worker process running this cell died on all {job.attempt} "
                              f"attempt(s) (last exit code {code}; a negative code is the "
                              f"signal that killed it, e.g. -9 = SIGKILL, often out of memory)"}))

    on_main, previous_term = _exit_on_sigterm()
    try:
        while queue or any(w.job is not None for w in workers):
            workers = [w for w in workers if not w.dead]
            while queue and len(workers) < jobs:
                workers.append(start_worker())
            for w in workers:
                if w.job is None and queue:
                    w.job = queue.pop()
                    try:
                        w.conn.send((suite, w.job.cell, w.job.chash, w.job.config))
                    except (BrokenPipeError, OSError):
                        died(w)
            show()
            busy = [w for w in workers if w.job is not None]
            if not busy:
                continue
            ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy]))
            for w in busy:
                if w.conn in ready:
                    try:
                        record = w.conn.recv()
                    except (EOFError, OSError):
                        w.process.join(timeout=5)
                        died(w)
                        continue
                    job, w.job = w.job, None
                    finish(job, record)
                elif w.process.sentinel in ready:
                    w.process.join(timeout=5)
                    died(w)
    except BaseException:
        log.error("interrupted; cells still running are not recorded: %s",
                  ", ".join(w.job.cell.cell_id for w in workers if w.job is not None) or "none")
        raise
    finally:
        bar.close()
        _stop(workers)
        if on_main:
            signal.signal(signal.SIGTERM, previous_term or signal.SIG_DFL)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return [r for r in records if r is not None]


def _exit_on_sigterm() -> tuple[bool, Any]:
    """Turn SIGTERM into ``SystemExit`` while cells run, so the workers are stopped on the way
    out; returns whether it did (not off the main thread, where Python cannot set a handler) and
    the previous handler."""
    if threading.current_thread() is not threading.main_thread():
        return False, None

    def terminate(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    return True, signal.signal(signal.SIGTERM, terminate)


def _stop(workers: Sequence[_Worker]) -> None:
    """Ask idle workers to exit, terminate busy ones, and reap them all."""
    for w in workers:
        if w.dead:
            continue
        try:
            if w.job is None:
                w.conn.send(None)
            else:
                w.process.terminate()
        except (BrokenPipeError, OSError) as err:
            log.debug("stopping a worker: %s", err)
    for w in workers:
        w.process.join(timeout=10)
        if w.process.is_alive():
            w.process.kill()
            w.process.join()
        if not w.dead:
            w.conn.close()

