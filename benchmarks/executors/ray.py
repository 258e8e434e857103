"""Runs cells as Ray tasks: one cell = one task, on a local Ray instance or a cluster.

This process (the driver) does what must happen once or in one place:

1. **Shared data.** The :class:`~benchmarks.execute.DatasetContext` of each data set (images, the
   trained feature network, the FID anchors) is built once here and ``ray.put`` into the object
   store; every task of that data set receives it from there instead of loading the data or
   training the feature network itself. A data set that cannot be prepared fails its cells.
2. **Files.** A task runs the cell as every executor does (:class:`benchmarks.execute.CellRunner`,
   so a Python error inside the cell is a ``failed`` record, never a crashed task), writes the
   model and figures into a scratch folder of its own node, and *returns* the record with those
   files; the driver (:mod:`benchmarks.driver`) writes the files, then the record. No shared file
   system between the nodes is needed; where a node does see the driver's results folder (a local
   instance, a shared file system), a conversion cell there starts from the ANN its twin cell
   already trained and recorded, as under the local executors.
3. **Dead tasks.** A task whose worker process dies (``WorkerCrashedError``, ``OutOfMemoryError``,
   any other ``RayError``) is reported as :class:`~benchmarks.executors.Died`, and the driver
   submits it again or records it as failed.
4. **GPUs.** A task asks Ray for its entry's ``cpus`` and ``gpus``; a cell given a GPU runs on it
   (Ray makes the GPUs it assigned the only ones the task sees, so the first is ``cuda:0``), one
   given none runs on the CPU (:func:`task_device`). The suite's ``device`` is the driver's
   own, for the data-set contexts it builds.

If nothing is left to run the driver never opens this executor, so Ray is not even started.
Ray is an optional dependency, imported only here: ``pip install -e '.[ray]'`` or ``tox -e ray``.
"""

from __future__ import annotations

import logging
import os
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import records as rec
from benchmarks.execute import (
    CellRunner,
    ContextFactory,
    DatasetContext,
    apply_threads,
    failed_record,
    thread_env,
)
from benchmarks.executors import Died, Finished, Job, Outcome
from benchmarks.plan import Cell, Planned
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


def task_device(gpu_ids: Sequence[Any]) -> str:
    """The device of a cell whose Ray task was given the GPUs ``gpu_ids``
    (``ray.get_gpu_ids()``): the first of them, which the task sees as ``cuda:0`` (Ray sets its
    ``CUDA_VISIBLE_DEVICES`` to them), or the CPU when it was given none."""
    return "cuda:0" if len(gpu_ids) else "cpu"


def _cell_task(suite: Suite, planned: Planned, ctx: Any,
               results_dir: Path) -> tuple[rec.Record, dict[str, bytes]]:
    """The body of one Ray task: run ``planned`` on the shared ``ctx``; return its record and files.

    Args:
        ctx: the data set's context, resolved by Ray from the object store (built by the driver).
        results_dir: the driver's results folder, read only: where this node sees it (a local
            instance, a shared file system), a conversion cell starts from its ANN twin's saved
            model (:func:`benchmarks.execute.trained_twins`) instead of training that ANN again;
            elsewhere nothing is found there and the cell trains it.

    Returns:
        The cell's record (status ok, failed or skipped) and the files the cell wrote
        (model, figures), as ``{path relative to results_dir: bytes}``. The cell runs on the GPU
        Ray gave the task, or on the CPU (:func:`task_device`); a GPU torch cannot use makes a
        failed record naming what torch found.
    """
    apply_threads(suite.threads)
    device = task_device(ray.get_gpu_ids())
    with tempfile.TemporaryDirectory(prefix=_SCRATCH_PREFIX) as tmp:
        scratch = Path(tmp)
        try:
            run = CellRunner(suite, scratch, contexts={planned.cell.dataset: ctx},
                             progress=False, twins_from=results_dir, device=device)
        except ValueError as err:  # the GPU Ray assigned is not usable by torch here
            return failed_record(suite, planned, type(err).__name__, str(err)), {}
        record = run(planned)
        files = {p.relative_to(scratch).as_posix(): p.read_bytes()
                 for p in sorted(scratch.rglob("*")) if p.is_file()}
    return record, files


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


#: The oldest Ray checked to start local instances with token authentication on by default
#: (2.60: "Token authentication is enabled for this Ray cluster"); pyproject's floor.
MIN_RAY = (2, 60)


def _init_ray(address: str | None, runtime_env: dict[str, Any] | None) -> bool:
    """Connect to ``address`` or start a local instance; returns whether this call started it.

    Ray's GCS and raylet listen on every interface (checked with ``ss -ltnp`` on Ray 2.60, also
    with a loopback node address), so the token that a local instance of a recent Ray requires is
    what keeps other hosts from submitting work; older Ray is refused.

    Raises:
        ImportError: the installed Ray is older than :data:`MIN_RAY`.
    """
    version = tuple(int(x) for x in ray.__version__.split(".")[:2] if x.isdigit())
    if version < MIN_RAY:
        raise ImportError(f"Ray {ray.__version__} starts local instances without token "
                          f"authentication; the Ray executor needs "
                          f"ray>={'.'.join(map(str, MIN_RAY))}: pip install -e '.[ray]'")
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


class RayExecutor:
    """One Ray task per cell; each asks Ray for its entry's ``cpus``/``gpus``, runs with
    ``suite.threads`` threads, and on the GPU it was given (if any: :func:`task_device`). All
    cells are submitted at once: Ray queues them for resources.

    Args:
        address: a Ray cluster address (``ray://host:10001``, ``host:6379`` or ``auto``); ``None``
            starts a local instance with ``os.cpu_count()`` CPUs, shut down on close. If Ray is
            already initialized in this process, that instance is used and left running.
        context_factory: ``(dataset, suite) -> context`` with the attributes of
            :class:`~benchmarks.execute.DatasetContext`; built once per data set in this process
            and shared with the tasks. Tests pass one holding tiny synthetic data.
        runtime_env: Ray runtime environment for the job (e.g. ``{"working_dir": "."}`` on a
            cluster whose nodes lack this code), used when this executor initializes Ray.
    """

    label = "ray"
    jobs = None  # as many as the cluster's resources allow

    def __init__(self, address: str | None = None, *,
                 context_factory: ContextFactory | None = None,
                 runtime_env: dict[str, Any] | None = None) -> None:
        self.address = address
        self.context_factory = context_factory or DatasetContext
        self.runtime_env = runtime_env
        self._started_here = False
        self._pending: dict[Any, Job] = {}  # object ref -> job
        self._ended: list[tuple[Job, Outcome]] = []  # outcomes known before any wait
        self._contexts: dict[str, Any] = {}  # data set -> object ref, or the error preparing it
        self._suite: Suite | None = None
        self._results_dir = Path()
        self._task: Any = None
        self._options: dict[str, Any] = {}

    def open(self, suite: Suite, results_dir: Path, jobs: list[Job]) -> None:
        """Start or join Ray and check that every cell fits the cluster.

        Raises:
            ValueError: an entry asks for more CPUs/GPUs than a local instance has.
        """
        apply_threads(suite.threads)  # this process builds the contexts (feature networks)
        self._suite, self._results_dir = suite, Path(results_dir).resolve()
        self._started_here = _init_ray(self.address, self.runtime_env)
        _check_feasible([j.planned.cell for j in jobs], ray.cluster_resources(),
                        local=self._started_here and self.address is None)
        # A worker's bars would reach this terminal as interleaved log lines.
        env_vars = {**thread_env(suite.threads), "TQDM_DISABLE": "1"}
        self._task = ray.remote(_cell_task)
        # Retries are the driver's (it records the attempts), not Ray's.
        self._options = {"max_retries": 0, "retry_exceptions": False,
                         "runtime_env": {"env_vars": env_vars}}

    def has_room(self) -> bool:
        return True

    def _context(self, dataset: str) -> Any:
        if dataset not in self._contexts:
            try:
                self._contexts[dataset] = ray.put(self.context_factory(dataset, self._suite))
            except Exception as err:  # every cell of this data set fails, the others go on
                log.error("data set %s: %s: %s", dataset, type(err).__name__, err)
                self._contexts[dataset] = err
        return self._contexts[dataset]

    def submit(self, job: Job) -> None:
        cell = job.planned.cell
        ctx = self._context(cell.dataset)
        if isinstance(ctx, Exception):
            self._ended.append((job, Finished(failed_record(
                self._suite, job.planned, type(ctx).__name__,
                f"preparing data set {cell.dataset!r}: {ctx}",
                "".join(traceback.format_exception(ctx))))))
            return
        ref = self._task.options(num_cpus=cell.entry.cpus, num_gpus=cell.entry.gpus,
                                 name=f"cell {cell.cell_id}", **self._options).remote(
            self._suite, job.planned, ctx, self._results_dir)
        self._pending[ref] = job

    def running(self) -> list[Job]:
        return list(self._pending.values()) + [job for job, _ in self._ended]

    def wait(self) -> list[tuple[Job, Outcome]]:
        if self._pending and not self._ended:
            ready, _ = ray.wait(list(self._pending), num_returns=1)
            for ref in ready:
                job = self._pending.pop(ref)
                try:
                    record, files = ray.get(ref)
                except ray.exceptions.RayError as err:
                    kind, message = _error_of(err)
                    self._ended.append((job, Died(kind, "Ray task", f"{kind}: {message}",
                                                  "".join(traceback.format_exception(err)))))
                    continue
                self._ended.append((job, Finished(record, files)))
        ended, self._ended = self._ended, []
        return ended

    def close(self) -> None:
        """Cancel the tasks still running (an interrupted run) and shut down a local instance
        this executor started."""
        for ref, job in self._pending.items():
            try:
                ray.cancel(ref, force=True)
            except Exception as err:  # already finished or the cluster is gone
                log.debug("cancel %s: %s", job.cell_id, err)
        self._pending = {}
        if self._started_here:
            ray.shutdown()
            self._started_here = False
