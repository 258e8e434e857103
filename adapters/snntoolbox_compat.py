"""Every patch SNN Toolbox 0.6.0 needs on TensorFlow 2.21 / tf-keras 2.21 / numpy 2, in one place.

SNN Toolbox's last release (0.6.0, 2021) predates Keras 3 and numpy 2. It works on TensorFlow 2.21
only through Keras 2 (the ``tf_keras`` package, selected with ``TF_USE_LEGACY_KERAS=1`` *before*
TensorFlow is imported), and needs these fixes, each applied here and nowhere else:

1. ``np.product`` was removed in numpy 2; the toolbox calls it when it builds the SNN
   (``AbstractSNN.set_connectivity``). Patch: alias ``numpy.product = numpy.prod`` (only when
   missing). ``np.bool`` is left alone: numpy 2 has it again.
2. ``conversion.utils.get_scale_fac`` returns a numpy float, which ``json.dump`` rejects when the
   toolbox writes its scale factors. Patch: wrap it to return a Python ``float``.
3. Logging ``spiketrains_n_b_l_t`` / ``mem_n_b_l_t`` crashes in ``np.savez_compressed``. Fix: the
   config this module writes logs and plots nothing (:func:`config_text` refuses those keys); spikes
   are read from the layers' outputs instead.
4. A failed run leaves a truncated normalisation JSON that the next run re-reads. Fix: every
   conversion runs in a fresh temporary working directory (:func:`fresh_workdir`).
5. The toolbox prints progress to stdout, which in this suite is reserved for data, and
   tf_keras draws progress bars there. Fix: :func:`toolbox_output_to_log` captures that output and
   logs it at DEBUG level; tf_keras's interactive logging and TensorFlow's retracing warnings (each
   conversion builds new ``tf.function`` objects) are turned off in the conversion process.

The toolbox's wheel also installs a top-level ``tests`` package into site-packages: never
``import tests``.

Import order matters: importing TensorFlow first and triton-loading torch code later aborted with
``LLVM ERROR: inconsistency in registered CommandLine options``; :func:`import_tensorflow` imports
torch first. Only ``adapters.conversion`` imports this module, and only ``import_tensorflow`` /
``load_toolbox`` touch TensorFlow, so importing this module itself is cheap.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import io
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

#: Versions the patches were written and tested for: distribution -> required version prefix.
SUPPORTED_VERSIONS: dict[str, str] = {
    "snntoolbox": "0.6.0",
    "tensorflow": "2.21.",
    "tf_keras": "2.21.",
}

#: Toolbox log/plot variables that must stay off (they crash or cost memory; see patch 3).
FORBIDDEN_LOG_VARS = frozenset({"spiketrains_n_b_l_t", "mem_n_b_l_t", "all"})

INSTALL_HINT = ("tox -e conversion (see requirements/conversion.txt: tensorflow-cpu==2.21.0, then "
                "tf-keras==2.21.0 snntoolbox==0.6.0 with --no-deps)")

_PATCHED = False

# tf.keras must resolve to tf_keras; TensorFlow reads this when tf.keras is first used, so it is set
# as soon as the conversion backend is imported (before anyone, e.g. a test, imports TensorFlow).
os.environ["TF_USE_LEGACY_KERAS"] = "1"


def _installed_version(module: ModuleType, dist_names: tuple[str, ...]) -> str:
    version = getattr(module, "__version__", None)
    if isinstance(version, str):
        return version
    for dist in dist_names:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"


def missing_libraries() -> list[str]:
    """The conversion backend's libraries that are not installed (no import, no TensorFlow start)."""
    import importlib.util

    return [name for name in ("tensorflow", "tf_keras", "snntoolbox")
            if importlib.util.find_spec(name) is None]


def require_libraries() -> None:
    """Raise :class:`ImportError` naming the tox env when a conversion library is missing."""
    missing = missing_libraries()
    if missing:
        raise ImportError(f"the conversion backend needs {missing}, which are not installed; "
                          f"install them with: {INSTALL_HINT}")


def check_versions(versions: Mapping[str, str]) -> None:
    """Fail clearly on library versions these patches were not made for.

    Args:
        versions: installed version per name of :data:`SUPPORTED_VERSIONS`.

    Raises:
        RuntimeError: a version does not start with its supported prefix (names both, and how to
            install the supported set).
    """
    bad = {name: versions.get(name, "missing") for name, prefix in SUPPORTED_VERSIONS.items()
           if not str(versions.get(name, "")).startswith(prefix)}
    if bad:
        wanted = {name: SUPPORTED_VERSIONS[name] + ("*" if SUPPORTED_VERSIONS[name].endswith(".")
                                                     else "") for name in bad}
        raise RuntimeError(
            f"adapters.snntoolbox_compat was written for {wanted} but found {bad}; its patches "
            f"(np.product alias, get_scale_fac float, no spike-train logging) are unchecked on "
            f"those versions. Install the supported set with: {INSTALL_HINT}")


@functools.cache
def import_tensorflow() -> tuple[ModuleType, ModuleType]:
    """Import TensorFlow with Keras 2 (``tf_keras``), torch first, quietly, and check versions.

    Sets ``TF_USE_LEGACY_KERAS=1`` (required), and defaults ``TF_CPP_MIN_LOG_LEVEL=2`` and
    ``TF_ENABLE_ONEDNN_OPTS=0`` (reproducible float sums) unless the caller set them. Thread counts
    come from ``TF_NUM_INTRAOP_THREADS`` / ``TF_NUM_INTEROP_THREADS`` (TensorFlow reads them), or
    else follow ``torch.get_num_threads()``.

    Returns:
        ``(tensorflow, tf_keras)``.

    Raises:
        ImportError: TensorFlow, tf_keras or snntoolbox is missing (names the tox env).
        RuntimeError: ``tf.keras`` is not tf_keras (TensorFlow's Keras was resolved before
            ``TF_USE_LEGACY_KERAS=1`` was set), or versions differ.
    """
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import torch  # noqa: F401  (before TensorFlow: see the module docstring)

    try:
        import tensorflow as tf
        import tf_keras
    except ModuleNotFoundError as err:
        raise ImportError(f"the conversion backend needs {err.name!r}; install it with: "
                          f"{INSTALL_HINT}") from err
    try:
        import snntoolbox
    except ModuleNotFoundError as err:
        raise ImportError(f"the conversion backend needs 'snntoolbox'; install it with: "
                          f"{INSTALL_HINT}") from err
    check_versions({
        "tensorflow": _installed_version(tf, ("tensorflow-cpu", "tensorflow")),
        "tf_keras": _installed_version(tf_keras, ("tf-keras",)),
        "snntoolbox": _installed_version(snntoolbox, ("snntoolbox",)),
    })
    if tf.keras.layers.Dense is not tf_keras.layers.Dense:
        raise RuntimeError(f"tf.keras resolves to {tf.keras.layers.Dense.__module__}, not tf_keras: SNN Toolbox "
                           "fails on Keras 3. Set TF_USE_LEGACY_KERAS=1 before importing TensorFlow.")
    _set_tf_threads(tf)
    tf.get_logger().setLevel(logging.ERROR)
    tf_keras.utils.disable_interactive_logging()
    return tf, tf_keras


def _set_tf_threads(tf: ModuleType) -> None:
    import torch

    n = max(1, torch.get_num_threads())
    intra = int(os.environ.get("TF_NUM_INTRAOP_THREADS", n))
    inter = int(os.environ.get("TF_NUM_INTEROP_THREADS", 1))
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError:
        # The runtime is already initialised (an earlier conversion in this process): keep it.
        pass


def apply_patches() -> None:
    """Apply patches 1 and 2 of the module docstring (idempotent)."""
    global _PATCHED
    if _PATCHED:
        return
    import numpy as np

    if not hasattr(np, "product"):
        np.product = np.prod  # patch 1

    import snntoolbox.conversion.utils as conversion_utils

    original = conversion_utils.get_scale_fac

    def get_scale_fac(activations: Any, percentile: float) -> float:  # patch 2
        return float(original(activations, percentile))

    get_scale_fac.__wrapped__ = original  # type: ignore[attr-defined]
    conversion_utils.get_scale_fac = get_scale_fac
    _PATCHED = True


@dataclass(frozen=True)
class Toolbox:
    """The few toolbox entry points the conversion backend drives, after patching."""

    update_setup: Any
    keras_input_lib: ModuleType
    normalize_parameters: Any
    SNN: type


def load_toolbox() -> Toolbox:
    """Import TensorFlow + SNN Toolbox, check versions, patch, and return its entry points."""
    import_tensorflow()
    apply_patches()
    with toolbox_output_to_log():
        from snntoolbox.bin.utils import update_setup
        from snntoolbox.conversion.utils import normalize_parameters
        from snntoolbox.parsing.model_libs import keras_input_lib
        from snntoolbox.simulation.target_simulators.INI_temporal_mean_rate_target_sim import SNN
    return Toolbox(update_setup=update_setup, keras_input_lib=keras_input_lib,
                   normalize_parameters=normalize_parameters, SNN=SNN)


@contextlib.contextmanager
def fresh_workdir(prefix: str = "snntoolbox-") -> Iterator[Path]:
    """A new, empty working directory for one conversion, removed afterwards (patch 4)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def toolbox_output_to_log() -> Iterator[None]:
    """Capture the toolbox's ``print`` output (stdout is data in this suite) and log it at DEBUG.

    If the block raises, the last lines are logged at ERROR level, since they explain the failure.
    """
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            yield
    except BaseException:
        tail = buffer.getvalue().splitlines()[-40:]
        log.error("SNN Toolbox output before the failure:\n%s", "\n".join(tail))
        raise
    finally:
        text = buffer.getvalue().strip()
        if text:
            log.debug("SNN Toolbox output:\n%s", text)


def config_text(*, workdir: Path, filename_ann: str, batch_size: int, duration: int,
                percentile: float, extra: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """The INI config text for one conversion run (INI simulator, rate code, nothing logged).

    Args:
        workdir: holds the ``<filename_ann>.h5`` model and ``x_test.npz``/``y_test.npz``/
            ``x_norm.npz`` (the toolbox checks they exist).
        filename_ann: model file name without ``.h5``.
        batch_size: simulation batch (the SNN is built for this fixed batch).
        duration: simulation steps (``dt = 1``); the caller steps the simulator itself.
        percentile: activation percentile for the toolbox's parameter normalisation.
        extra: more ``{section: {key: value}}`` settings; log/plot variables are refused.

    Raises:
        ValueError: a forbidden log/plot variable is requested, or a number is out of range.
    """
    if batch_size < 1 or duration < 1:
        raise ValueError(f"batch_size and duration must be >= 1, got {batch_size}, {duration}")
    if not 0.0 < percentile <= 100.0:
        raise ValueError(f"percentile must lie in (0, 100], got {percentile}")
    sections: dict[str, dict[str, str]] = {
        "paths": {"path_wd": str(workdir), "dataset_path": str(workdir),
                  "filename_ann": filename_ann, "runlabel": "conversion"},
        "tools": {"evaluate_ann": "False", "parse": "True", "normalize": "True",
                  "convert": "True", "simulate": "True"},
        "normalization": {"percentile": repr(float(percentile))},
        "simulation": {"simulator": "INI", "duration": str(int(duration)), "dt": "1",
                       "batch_size": str(int(batch_size)), "num_to_test": str(int(batch_size)),
                       "reset_between_nth_sample": "1"},
        "cell": {"v_thresh": "1", "tau_refrac": "0", "reset": "Reset by subtraction",
                 "leak": "False", "payloads": "False", "bias_relaxation": "False"},
        "output": {"log_vars": "{}", "plot_vars": "{}", "verbose": "0", "overwrite": "True"},
    }
    for section, values in (extra or {}).items():
        sections.setdefault(section, {}).update({k: str(v) for k, v in values.items()})
    for key in ("log_vars", "plot_vars"):
        requested = sections["output"][key]
        bad = sorted(v for v in FORBIDDEN_LOG_VARS if f"'{v}'" in requested or f'"{v}"' in requested)
        if bad:
            raise ValueError(f"output.{key} may not contain {bad} (they crash on numpy 2); "
                             f"spikes are read from the layer outputs instead")
    lines: list[str] = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{k} = {v}" for k, v in values.items())
        lines.append("")
    return "\n".join(lines)
