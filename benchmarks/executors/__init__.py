"""Executors: where the driver's cells run. Each takes a planned cell and gives back its record.

* :class:`~benchmarks.executors.sequential.Sequential` — one cell after another in this process
  (``run``, the default).
* :class:`~benchmarks.executors.local.LocalWorkers` — ``jobs`` spawned worker processes on this
  machine (``run --jobs N``).
* :class:`~benchmarks.executors.ray.RayExecutor` — one Ray task per cell, on a local instance or a
  cluster (``run --executor ray``; Ray is imported only in that module).

An executor only runs cells (through :class:`benchmarks.execute.CellRunner`) and reports how each
ended: the driver (:mod:`benchmarks.driver`) plans, writes the records, retries a cell whose worker
died and shows the progress.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from benchmarks import records as rec
from benchmarks.plan import Planned
from benchmarks.suites import Suite


@dataclass(frozen=True)
class Job:
    """One attempt at running a planned cell: its place in the run and its attempt (from 1)."""

    index: int
    planned: Planned
    attempt: int = 1

    @property
    def cell_id(self) -> str:
        return self.planned.cell.cell_id

    def again(self) -> Job:
        return dataclasses.replace(self, attempt=self.attempt + 1)


@dataclass(frozen=True)
class Finished:
    """The cell ran to its record (ok, failed or skipped).

    Attributes:
        files: files the cell wrote away from the results folder (a Ray task's node), as
            ``{path relative to results_dir: bytes}``, for the driver to write before the record.
    """

    record: rec.Record
    files: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class Died:
    """The process running the cell died before returning a record (killed, out of memory, a
    crash in native code).

    Attributes:
        kind: the error type recorded if it is not retried (``WorkerDied``, a Ray error's name).
        runner: what died, for the message (``"worker process"``, ``"Ray task"``).
        reason: why, as far as known (an exit code, the Ray error's message).
        traceback: the driver-side traceback, where there is one.
    """

    kind: str
    runner: str
    reason: str
    traceback: str = ""


Outcome = Finished | Died


class Executor(Protocol):
    """What the driver needs of an executor.

    Attributes:
        label: how the progress bar names it (``"local"``, ``"jobs 2"``, ``"ray"``).
        jobs: cells it runs at once, recorded in each record's ``env.jobs`` (a cell's timings
            depend on it); ``None`` where that is the cluster's to decide and is not recorded.
    """

    label: str
    jobs: int | None

    def open(self, suite: Suite, results_dir: Path, jobs: list[Job]) -> None:
        """Get ready to run ``jobs`` (the cells this run will submit) of ``suite``."""

    def has_room(self) -> bool:
        """Whether :meth:`submit` would start a cell now."""

    def submit(self, job: Job) -> None:
        """Start ``job`` (or queue it where the executor queues)."""

    def running(self) -> list[Job]:
        """The jobs submitted whose outcome :meth:`wait` has not returned yet."""

    def wait(self) -> list[tuple[Job, Outcome]]:
        """Block until at least one running job has ended; returns those that have."""

    def close(self) -> None:
        """Stop whatever still runs and release the workers (also after an error)."""
