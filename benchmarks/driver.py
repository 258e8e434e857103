"""The run loop every executor shares: plan, submit, write records, retry, summarise.

:func:`run_suite` plans the cells (:mod:`benchmarks.plan`), returns the recorded ones without
running them (resume), hands the rest to an executor (:mod:`benchmarks.executors`) and, as each
cell ends, writes its files and record atomically, so an interrupted run keeps every finished
cell and resumes from there. A cell whose worker died is run again up to ``max_retries`` times,
then recorded as failed with the reason; the other cells go on. SIGTERM and Ctrl-C stop the
executor's workers on the way out. The progress bar (stderr) shows cells done, running, failed
and retried; the summary line gives the wall time and the counts.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from adapters.io import atomic_write_bytes, atomic_write_text
from benchmarks import records as rec
from benchmarks.execute import failed_record
from benchmarks.executors import Died, Executor, Finished, Job
from benchmarks.plan import Cell, plan
from benchmarks.suites import Suite, validate_entries

log = logging.getLogger(__name__)

_SHOWN_RUNNING = 3  # cell ids named in the progress bar; more are counted


def write_files(results_dir: Path, files: dict[str, bytes]) -> None:
    """Write the files a cell returned (``{path relative to results_dir: bytes}``) atomically.

    Raises:
        ValueError: a path points outside ``results_dir``.
    """
    root = Path(results_dir).resolve()
    for rel, data in files.items():
        target = (root / rel).resolve()
        if root not in target.parents:
            raise ValueError(f"a task returned the file {rel!r}, outside results_dir {root}")
        atomic_write_bytes(target, data)


def _exit_on_sigterm() -> tuple[bool, Any]:
    """Turn SIGTERM into ``SystemExit`` while cells run, so the workers are stopped on the way
    out; returns whether it did (not off the main thread, where Python cannot set a handler) and
    the previous handler."""
    if threading.current_thread() is not threading.main_thread():
        return False, None

    def terminate(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    return True, signal.signal(signal.SIGTERM, terminate)


def _extractors(cells: Sequence[Cell]) -> dict[str, str | None]:
    """Data set -> weights digest of its cached feature network (``None`` where none is cached
    yet), so that resume re-measures a record made with another extractor."""
    from benchmarks.metrics.features import cached_weights_sha256

    return {ds: cached_weights_sha256(ds) for ds in sorted({c.dataset for c in cells})}


def run_suite(suite: Suite, cells: Sequence[Cell], executor: Executor | None = None, *,
              results_dir: Path = rec.DEFAULT_RUNS, force: bool = False,
              max_retries: int = 1, reevaluate: bool = False) -> list[rec.Record]:
    """Run ``cells`` of ``suite`` on ``executor``; returns their records in the order of ``cells``.

    Records land in ``<results_dir>/<suite>/records``, one per cell, whichever executor ran it.

    Args:
        executor: where the cells run; ``None`` is
            :class:`~benchmarks.executors.sequential.Sequential` (one after another, here).
        force: re-run cells even when their record exists with the same config hash.
        max_retries: how many times a cell whose worker died is run again (>= 0).
        reevaluate: train nothing; measure every ok recorded cell again from its saved model
            (for metrics added since it was recorded). Its recorded numbers must come back
            exactly (:func:`benchmarks.execute.reproduced`), or its record is kept as it was and
            the cell counts as failed; cells without a record or a saved model are left alone.

    Raises:
        ValueError: ``max_retries`` is not an int >= 0; a bad entry config (before anything
            runs); whatever the executor refuses when it opens.
    """
    if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
        raise ValueError(f"max_retries must be an int >= 0, got {max_retries!r}")
    if executor is None:
        from benchmarks.executors.sequential import Sequential

        executor = Sequential()
    validate_entries(suite)
    started = time.perf_counter()
    planned = plan(suite, cells, results_dir, force and not reevaluate,
                   extractors=None if reevaluate else _extractors(cells))
    records: list[rec.Record | None] = [p.recorded for p in planned]
    if reevaluate:
        todo = [Job(i, p) for i, p in enumerate(planned) if _reevaluable(p, suite, results_dir)]
    else:
        for p in planned:
            if p.recorded is not None:
                log.info("skip %s: recorded with the same config", p.cell.cell_id)
        todo = [Job(i, p) for i, p in enumerate(planned) if p.recorded is None]
    counts: Counter[str] = Counter()
    if todo:
        _drive(suite, executor, todo, records, counts, Path(results_dir), max_retries)
    else:
        log.info("suite %s: all %d cells are recorded; nothing to run", suite.name, len(cells))
    done = [r for r in records if r is not None]
    headline = (f"suite {suite.name}: {len(done)} cells ({len(todo)} run now, "
                f"{len(cells) - len(todo)} already recorded; {counts['ok']} ok, "
                f"{counts['failed']} failed, {counts['skipped']} skipped, {counts['retried']} "
                f"retried) in {time.perf_counter() - started:.0f} s wall time (executor "
                f"{executor.label}, {suite.threads} thread(s) per cell)")
    log.info("%s", headline)
    if todo:
        ran = [records[job.index] for job in todo if records[job.index] is not None]
        summary = run_summary(headline, ran)
        log.info("time per cell of this run:\n%s", summary)
        atomic_write_text(Path(results_dir) / suite.name / SUMMARY_FILE, summary)
    return done


#: The last run's summary, beside the suite's records folder.
SUMMARY_FILE = "run_summary.md"

#: Phases of a cell's time, in order: (column, ``timing`` key of its record).
PHASES = (("train", "train_seconds"), ("sample", "sample_seconds"),
          ("reconstruct", "recon_seconds"), ("evaluate", "eval_seconds"))


def run_summary(headline: str, records: Sequence[rec.Record]) -> str:
    """Markdown: ``headline``, then each cell's time per phase (seconds) and the phases' totals.

    A conversion cell's ``train`` includes the training time of the ANN twin it started from
    (so its cost does not depend on the reuse); the totals count only what ran.
    """
    def cell(value: Any) -> str:
        return f"{value:.1f}" if isinstance(value, int | float) else "—"

    head = ["cell", "status", *(name for name, _ in PHASES)]
    lines = [headline, "", "| " + " | ".join(head) + " |",
             "|" + "|".join(["---"] * 2 + ["---:"] * len(PHASES)) + "|"]
    totals = dict.fromkeys((name for name, _ in PHASES), 0.0)
    for r in records:
        timing = r.get("timing") or {}
        lines.append(f"| {r['cell_id']} | {r['status']} | " +
                     " | ".join(cell(timing.get(key)) for _, key in PHASES) + " |")
        for name, key in PHASES:
            value = timing.get(key)
            if isinstance(value, int | float):
                twin = ((r.get("fit") or {}).get("extra") or {}).get("twin_train_seconds", 0.0) \
                    if name == "train" else 0.0
                totals[name] += float(value) - float(twin or 0.0)
    lines.append("| **all cells (CPU seconds, twins counted once)** | | " +
                 " | ".join(f"{v:.0f}" for v in totals.values()) + " |")
    return "\n".join(lines) + "\n"


def _reevaluable(p: Any, suite: Suite, results_dir: Path) -> bool:
    """Whether planned cell ``p`` can be re-evaluated: an ok record and its saved model."""
    if p.recorded is None or p.recorded["status"] != "ok":
        log.info("re-evaluation skips %s: %s", p.cell.cell_id,
                 "no ok record with the current config" if p.recorded is None
                 else f"its record is {p.recorded['status']}")
        return False
    if not rec.model_path(results_dir, suite.name, p.cell.cell_id).is_file():
        log.warning("re-evaluation skips %s: its saved model %s is missing (train it again with "
                    "run --force)", p.cell.cell_id,
                    rec.model_path(results_dir, suite.name, p.cell.cell_id))
        return False
    return True


def interleave(todo: Sequence[Job]) -> list[Job]:
    """``todo`` with the data sets taken in turn (the suite's order within each data set).

    The first cells of a run prepare their data set's feature networks (minutes, once per
    machine); taking the data sets in turn lets ``--jobs 2`` train both data sets' networks at
    once instead of one worker waiting for the other's.
    """
    by_dataset: dict[str, list[Job]] = {}
    for job in todo:
        by_dataset.setdefault(job.planned.cell.dataset, []).append(job)
    lanes = list(by_dataset.values())
    return [lane[i] for i in range(max(map(len, lanes), default=0)) for lane in lanes
            if i < len(lane)]


def _drive(suite: Suite, executor: Executor, todo: list[Job], records: list[rec.Record | None],
           counts: Counter[str], results_dir: Path, max_retries: int) -> None:
    """Submit ``todo`` to ``executor`` and write each record as its cell ends."""
    n = len(records)
    bar = tqdm(total=n, initial=n - len(todo), unit="cell", desc=f"suite {suite.name} "
               f"({executor.label})", dynamic_ncols=True)
    queue = list(reversed(interleave(todo)))  # pop() from the end takes them in that order

    def finish(job: Job, record: rec.Record, files: dict[str, bytes]) -> None:
        kept = job.planned.recorded
        if kept is not None and record["status"] != "ok":  # a re-evaluation that failed
            log.error("%s: re-evaluation failed, its record is kept: %s", job.cell_id,
                      (record.get("error") or {}).get("message"))
            records[job.index] = kept
            counts["failed"] += 1
            bar.update(1)
            return
        write_files(results_dir, files)  # first: a record never points at a missing figure
        if executor.jobs is not None:
            record["env"]["jobs"] = executor.jobs  # cells beside it (its timings depend on it)
        rec.write_record(results_dir, record)
        records[job.index] = record
        counts[record["status"]] += 1
        log.info("%s: %s", job.cell_id, record["status"])
        bar.update(1)

    def died(job: Job, how: Died) -> None:
        if job.attempt <= max_retries:
            log.warning("%s: the %s running it died (%s), attempt %d of %d; running it again",
                        job.cell_id, how.runner, how.reason, job.attempt, max_retries + 1)
            counts["retried"] += 1
            queue.append(job.again())
            return
        log.error("%s failed: the %s running it died on all %d attempt(s) (%s)",
                  job.cell_id, how.runner, job.attempt, how.reason)
        finish(job, failed_record(
            suite, job.planned, how.kind,
            f"the {how.runner} running this cell died on all {job.attempt} attempt(s) "
            f"({how.reason})", how.traceback), {})

    def show() -> None:
        running = [j.cell_id for j in executor.running()]
        names = ", ".join(running) if len(running) <= _SHOWN_RUNNING else f"{len(running)} cells"
        bar.set_postfix({"running": names or "-", "failed": counts["failed"],
                         "retried": counts["retried"]}, refresh=True)

    on_main, previous_term = _exit_on_sigterm()
    try:
        executor.open(suite, results_dir, todo)
        while queue or executor.running():
            while queue and executor.has_room():
                executor.submit(queue.pop())
            show()
            for job, outcome in executor.wait():
                if isinstance(outcome, Finished):
                    finish(job, outcome.record, outcome.files)
                else:
                    died(job, outcome)
    except (KeyboardInterrupt, SystemExit):
        log.error("interrupted; cells still running are not recorded: %s",
                  ", ".join(j.cell_id for j in executor.running()) or "none")
        raise
    finally:
        bar.close()
        executor.close()
        if on_main:
            signal.signal(signal.SIGTERM, previous_term or signal.SIG_DFL)
