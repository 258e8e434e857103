"""Running one of the suite's worker modules in a child Python process.

Used where a step must run under another interpreter (a backend's own environment:
:mod:`benchmarks.cell_worker`) or under kernels fixed before torch loads
(:mod:`benchmarks.metrics.featurenet_worker`).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: The repository root: the child's working directory and the head of its ``PYTHONPATH``.
REPO_ROOT = Path(__file__).resolve().parent.parent


def run_module(python: str | Path, module: str, args: Sequence[str | Path], *,
               env: Mapping[str, str] | None = None, **run_kwargs: Any) -> subprocess.CompletedProcess:
    """``python -m module *args`` from :data:`REPO_ROOT`, which is put first on ``PYTHONPATH``.

    Args:
        python: the interpreter.
        module: dotted module name, e.g. ``"benchmarks.cell_worker"``.
        args: its command-line arguments.
        env: variables set on top of this process's environment.
        run_kwargs: passed to :func:`subprocess.run` (``stdout`` etc.; stderr passes through
            unless given, so the child's errors and progress bars reach the user).

    Returns:
        The finished process; its return code is the caller's to check.
    """
    child_env = {**os.environ, **(env or {}),
                 "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([str(python), "-m", module, *map(str, args)], cwd=REPO_ROOT,
                          env=child_env, **run_kwargs)
