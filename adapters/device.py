"""Where a cell runs: the device option (``--device``, a suite's ``device``), its resolution to a
``torch.device``, an adapter's placement on it, and what a record says about it.

The device is a run option like the thread count, not science: it enters no config hash, and on
the CPU the code runs exactly the operations it ran before the option existed. What keeps the
science the same on every device:

* **Random draws stay on the CPU.** Every seed stream is a CPU ``torch.Generator``
  (:func:`adapters.coding.make_generator`); a draw whose operands live on an accelerator is made
  on the CPU and moved there (:func:`adapters.coding.bernoulli`), so one seed gives the same
  noise, spike trains, data order and initial weights on every device.
* **Op counts are counted exactly.** They are integers summed in float64 (on the CPU where the
  device has no float64, as MPS), so two devices that produce the same spikes count the same.
* **Outputs come back to the CPU.** ``sample`` and ``reconstruct`` return CPU tensors, and the
  metrics read them there.

Allowed values (:data:`DEVICE_CHOICES`): ``auto`` (the first CUDA GPU if torch sees one, else
the CPU; MPS is used only when asked for by name), ``cpu``, ``cuda`` (= ``cuda:0``), ``cuda:N``
and ``mps``. :func:`check_device_spec` checks the spelling alone (suite files, without torch);
:func:`resolve_device` also checks that the device exists here and fails, naming what torch
found, before anything trains.
"""

from __future__ import annotations

import dataclasses
import platform
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from adapters.base import GenerativeAdapter

#: What ``--device`` and a suite's ``device`` accept (``cuda:N``: N a GPU index).
DEVICE_CHOICES: tuple[str, ...] = ("auto", "cpu", "cuda", "cuda:N", "mps")
_SPEC = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


class DeviceError(ValueError):
    """A device that is misspelt, or asked for where this machine has none; the message names
    the allowed values or what torch found."""


def check_device_spec(spec: Any) -> str:
    """``spec`` if it is an allowed device string (:data:`DEVICE_CHOICES`); nothing is looked up.

    Raises:
        DeviceError: anything else, naming the allowed values.
    """
    if not isinstance(spec, str) or not _SPEC.match(spec):
        raise DeviceError(f"unknown device {spec!r}; allowed: {', '.join(DEVICE_CHOICES)} "
                          f"(N a GPU index, e.g. cuda:1)")
    return spec


def _found() -> str:
    """What torch sees on this machine, for error messages."""
    import torch

    cuda = torch.cuda.is_available()
    count = torch.cuda.device_count() if cuda else 0
    gpus = ", ".join(f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(count))
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    return (f"torch {torch.__version__} (CUDA build: {torch.version.cuda or 'none'}) sees "
            f"{count} CUDA device(s){': ' + gpus if gpus else ''} "
            f"(torch.cuda.is_available() is {cuda}); MPS available: {mps}")


def resolve_device(spec: str | torch.device) -> torch.device:
    """The ``torch.device`` of ``spec`` on this machine.

    ``auto`` is ``cuda:0`` when torch sees a CUDA GPU and the CPU otherwise; ``cuda`` is
    ``cuda:0``.

    Raises:
        DeviceError: a spelling outside :data:`DEVICE_CHOICES`, or a device this machine does
            not have (the message says what torch found: CUDA build, device count, GPU names,
            MPS).
    """
    import torch

    spec = check_device_spec(str(spec) if isinstance(spec, torch.device) else spec)
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "auto":
        return torch.device("cuda:0") if torch.cuda.is_available() else torch.device("cpu")
    if spec == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise DeviceError(f"device 'mps' asked for, but this machine has no usable MPS "
                              f"device: {_found()}; use --device cpu (or auto)")
        return torch.device("mps")
    index = int(spec.partition(":")[2] or 0)
    if not torch.cuda.is_available():
        raise DeviceError(f"device {spec!r} asked for, but this machine has no usable CUDA GPU: "
                          f"{_found()}; use --device cpu (or auto)")
    if index >= torch.cuda.device_count():
        raise DeviceError(f"device {spec!r} asked for, but {_found()}; allowed here: "
                          f"cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    return torch.device("cuda", index)


@dataclass(frozen=True)
class Placement:
    """Where an adapter runs, against where it was asked to run (the record's ``env``).

    Attributes:
        requested: the resolved device the run asked for, e.g. ``"cuda:0"``.
        used: the device the adapter's ``fit``/``sample``/``reconstruct`` ran on.
        reason: why ``used`` is not ``requested`` (the adapter's
            :meth:`~adapters.base.GenerativeAdapter.device_unsupported`); ``None`` when equal.
    """

    requested: str
    used: str
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def place(adapter: GenerativeAdapter, device: str | torch.device) -> Placement:
    """Run ``adapter`` on ``device`` (resolved: see :func:`resolve_device`) where its
    ``device_types`` allow it, else on the CPU; returns where it runs and why.

    Called by the harness after creating the adapter and before its ``fit`` or ``load``.
    """
    import torch

    device = torch.device(device)
    if device.type in adapter.device_types:
        adapter.use_device(device)
        return Placement(str(device), str(device))
    adapter.use_device(torch.device("cpu"))
    return Placement(str(device), "cpu", adapter.device_unsupported(device))


def _nvidia_driver() -> str | None:
    """The NVIDIA kernel driver's version (``/proc/driver/nvidia/version``, else
    ``nvidia-smi``), or ``None`` where neither says."""
    try:
        text = Path("/proc/driver/nvidia/version").read_text(encoding="utf-8")
        found = re.search(r"Kernel Module\s+(?:for \S+\s+)?(\d+(?:\.\d+)+)", text)
        if found:
            return found.group(1)
    except OSError:
        pass
    import subprocess

    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version",
                              "--format=csv,noheader"], capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip().splitlines()
        return out[0].strip() if out else None
    except (OSError, subprocess.SubprocessError):
        return None


def accelerator(device: str | torch.device) -> dict[str, Any] | None:
    """What a record says about the accelerator a cell ran on; ``None`` for the CPU (the
    record's ``env.cpu`` names it).

    CUDA: the GPU's name, compute capability and memory, the NVIDIA driver, the CUDA runtime
    torch was built with and the CUDA driver API version, cuDNN's version, and the settings that
    decide whether its numbers repeat (``cudnn_deterministic``, ``cudnn_benchmark``,
    ``tf32_matmul``, ``tf32_cudnn``). MPS: the macOS version.
    """
    import torch

    device = torch.device(device)
    if device.type == "cpu":
        return None
    if device.type == "mps":
        return {"type": "mps", "name": "Apple MPS", "macos": platform.mac_ver()[0] or None}
    if device.type != "cuda":
        return {"type": device.type, "name": str(device)}
    index = device.index if device.index is not None else 0
    props = torch.cuda.get_device_properties(index)
    driver_api = getattr(torch._C, "_cuda_getDriverVersion", None)
    return {
        "type": "cuda", "index": index, "name": torch.cuda.get_device_name(index),
        "capability": f"{props.major}.{props.minor}",
        "memory_gib": round(props.total_memory / 2**30, 1),
        "driver": _nvidia_driver(), "cuda_runtime": torch.version.cuda,
        "cuda_driver_api": driver_api() if callable(driver_api) else None,
        "cudnn": torch.backends.cudnn.version(),
        "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
        "tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32),
        "tf32_cudnn": bool(torch.backends.cudnn.allow_tf32),
    }


def environment(placement: Placement | Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The device part of a record's ``env``: ``device`` (where the cell ran),
    ``deterministic_algorithms`` (``torch.are_deterministic_algorithms_enabled()``), and, only
    where they apply, ``accelerator`` (:func:`accelerator`) and ``device_requested`` /
    ``device_reason`` (the adapter ran on the CPU though another device was asked for).

    ``None`` stands for a cell on the CPU (a record made without a placement).
    """
    import torch

    if placement is None:
        placement = Placement("cpu", "cpu")
    elif not isinstance(placement, Placement):
        placement = Placement(**dict(placement))
    out: dict[str, Any] = {"device": placement.used,
                           "deterministic_algorithms": torch.are_deterministic_algorithms_enabled()}
    info = accelerator(placement.used)
    if info is not None:
        out["accelerator"] = info
    if placement.used != placement.requested:
        out["device_requested"] = placement.requested
        out["device_reason"] = placement.reason
    return out
