"""Runs cells in ``jobs`` worker processes on this machine (``run --jobs N``).

Each worker is a fresh (spawned) Python process that runs one cell at a time through
:class:`benchmarks.execute.CellRunner`, exactly as the sequential executor does, with
``suite.threads`` threads and no per-cell progress bar (the workers' bars would interleave). A
worker prepares each data set's context (data, feature network, FID anchors) once and keeps it
for every later cell of that data set. The parent assigns cells to idle workers and gets their
records back; the driver alone writes them.

A worker that dies in the middle of a cell (killed, out of memory, a crash in native code) costs
only that cell: the executor reports it as :class:`~benchmarks.executors.Died` and the driver
runs it again or records it as failed; the other workers go on. Workers end with the parent: the
driver stops them on the way out (SIGTERM and Ctrl-C included), and a worker whose parent was
killed outright exits by itself within a second.

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
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import adapters
from benchmarks.execute import CellRunner, ContextFactory, DatasetContext, apply_threads
from benchmarks.executors import Died, Finished, Job, Outcome
from benchmarks.suites import Suite

log = logging.getLogger(__name__)


def _exit_with(parent: int) -> None:
    """End this worker soon after the parent process ``parent`` is gone, even mid-cell (the
    parent may have been killed without the chance to stop its workers)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(3)


def _worker_main(conn: Connection, registry: dict[str, str], suite: Suite,
                 context_factory: ContextFactory, results_dir: Path, parent: int) -> None:
    """A worker's loop: receive a :class:`~benchmarks.plan.Planned` cell, send back its record;
    ``None`` ends it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    apply_threads(suite.threads)
    adapters.ADAPTERS.update(registry)  # adapters the parent registered at run time
    run = CellRunner(suite, results_dir, context_factory=context_factory, progress=False)
    while True:
        try:
            planned = conn.recv()
        except EOFError:
            return
        if planned is None:
            return
        conn.send(run(planned))


def max_jobs() -> int:
    """The most ``--jobs`` accepted here: 4 per core."""
    return 4 * (os.cpu_count() or 1)


@dataclass
class _Worker:
    process: Any
    conn: Connection
    job: Job | None = None
    dead: bool = False


class LocalWorkers:
    """Runs up to ``jobs`` cells at once, each worker a spawned process of its own.

    Records come out as the sequential executor's, with the same numbers (every cell seeds
    itself; a worker runs ``suite.threads`` threads); on a machine with C cores keep
    ``jobs * suite.threads <= C``.

    A worker is started only when a cell needs one, so a run never starts more workers than it
    has pending cells, whatever ``jobs`` says; each imports torch (hundreds of MB), so ``jobs`` is
    capped at :func:`max_jobs`, and a run whose ``jobs * threads`` exceeds the cores is warned.

    Args:
        jobs: worker processes, 1 to :func:`max_jobs`.
        context_factory: ``(dataset, suite) -> context``, called in the workers; it must be
            importable by a fresh Python process (a module-level class or function).

    Raises:
        ValueError: ``jobs`` is not an int in that range (the message gives it).
    """

    def __init__(self, jobs: int, context_factory: ContextFactory | None = None) -> None:
        top = max_jobs()
        if not isinstance(jobs, int) or isinstance(jobs, bool) or not 1 <= jobs <= top:
            raise ValueError(f"--jobs must be an int from 1 to {top} (4 per core on this "
                             f"{os.cpu_count()}-core machine), got {jobs!r}")
        self.jobs = jobs
        self.label = f"jobs {jobs}"
        self.context_factory = context_factory or DatasetContext
        self._spawn = mp.get_context("spawn")
        self._workers: list[_Worker] = []
        self._ended: list[tuple[Job, Outcome]] = []  # outcomes known before any wait
        self._suite: Suite | None = None
        self._results_dir = Path()

    def open(self, suite: Suite, results_dir: Path, jobs: list[Job]) -> None:
        self._suite, self._results_dir = suite, Path(results_dir)
        at_once = min(self.jobs, len(jobs))
        cores = os.cpu_count() or 1
        if at_once * suite.threads > cores:
            log.warning("%d cells at once x %d thread(s) each = %d threads on %d core(s): cells "
                        "will slow each other down (keep jobs x threads <= cores; --threads sets "
                        "the threads per cell)", at_once, suite.threads,
                        at_once * suite.threads, cores)

    def _start_worker(self) -> _Worker:
        parent_end, child_end = self._spawn.Pipe()
        proc = self._spawn.Process(
            target=_worker_main, name="sgb-cell-worker", daemon=True,
            args=(child_end, dict(adapters.ADAPTERS), self._suite, self.context_factory,
                  self._results_dir, os.getpid()))
        proc.start()
        child_end.close()
        return _Worker(proc, parent_end)

    def has_room(self) -> bool:
        return len(self.running()) < self.jobs

    def submit(self, job: Job) -> None:
        self._workers = [w for w in self._workers if not w.dead]
        worker = next((w for w in self._workers if w.job is None), None)
        if worker is None:
            worker = self._start_worker()
            self._workers.append(worker)
        worker.job = job
        try:
            worker.conn.send(job.planned)
        except (BrokenPipeError, OSError):
            self._died(worker)

    def running(self) -> list[Job]:
        return [w.job for w in self._workers if w.job is not None] + \
            [job for job, _ in self._ended]

    def _died(self, worker: _Worker) -> None:
        job, code = worker.job, worker.process.exitcode
        worker.job, worker.dead = None, True
        worker.conn.close()
        if job is not None:
            self._ended.append((job, Died(
                "WorkerDied", "worker process",
                f"last exit code {code}; a negative code is the signal that killed it, e.g. "
                f"-9 = SIGKILL, often out of memory")))

    def wait(self) -> list[tuple[Job, Outcome]]:
        busy = [w for w in self._workers if w.job is not None]
        if busy and not self._ended:
            ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy]))
            for w in busy:
                if w.conn in ready:
                    try:
                        record = w.conn.recv()
                    except (EOFError, OSError):
                        w.process.join(timeout=5)
                        self._died(w)
                        continue
                    job, w.job = w.job, None
                    self._ended.append((job, Finished(record)))
                elif w.process.sentinel in ready:
                    w.process.join(timeout=5)
                    self._died(w)
        ended, self._ended = self._ended, []
        return ended

    def close(self) -> None:
        """Ask idle workers to exit, terminate busy ones, and reap them all."""
        for w in self._workers:
            if w.dead:
                continue
            try:
                if w.job is None:
                    w.conn.send(None)
                else:
                    w.process.terminate()
            except (BrokenPipeError, OSError) as err:
                log.debug("stopping a worker: %s", err)
        for w in self._workers:
            w.process.join(timeout=10)
            if w.process.is_alive():
                w.process.kill()
                w.process.join()
            if not w.dead:
                w.conn.close()
        self._workers = []
