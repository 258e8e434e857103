"""The default executor: each cell in this process, one after another, with its progress bar."""

from __future__ import annotations

from pathlib import Path

from benchmarks.execute import CellRunner, ContextFactory, apply_threads
from benchmarks.executors import Finished, Job, Outcome
from benchmarks.suites import Suite


class Sequential:
    """Runs one cell at a time in this process (``python -m benchmarks run``).

    Args:
        context_factory: ``(dataset, suite) -> context`` (default
            :class:`benchmarks.execute.DatasetContext`); tests pass one of synthetic data.
    """

    label = "local"
    jobs = 1

    def __init__(self, context_factory: ContextFactory | None = None) -> None:
        self.context_factory = context_factory
        self._runner: CellRunner | None = None
        self._job: Job | None = None

    def open(self, suite: Suite, results_dir: Path, jobs: list[Job]) -> None:
        apply_threads(suite.threads)
        self._runner = CellRunner(suite, results_dir, context_factory=self.context_factory)

    def has_room(self) -> bool:
        return self._job is None

    def submit(self, job: Job) -> None:
        self._job = job

    def running(self) -> list[Job]:
        return [self._job] if self._job is not None else []

    def wait(self) -> list[tuple[Job, Outcome]]:
        job = self._job
        if job is None or self._runner is None:
            return []
        record = self._runner(job.planned)
        self._job = None
        return [(job, Finished(record))]

    def close(self) -> None:
        self._runner = None
