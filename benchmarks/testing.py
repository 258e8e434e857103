"""The adapter contract as a public check: what every adapter, built-in or plugin, must do.

:func:`check_adapter` trains the adapter for a second on tiny synthetic images and runs the checks
of :data:`CHECKS` in order; the first that fails raises :class:`ContractError` (an
``AssertionError``, so pytest shows it as a test failure) naming the check, what it means and
what was found. The built-in adapters pass exactly these checks (``tests/contract``), so a
plugin that passes them runs in a suite like a built-in row. In a plugin's tests::

    from benchmarks.testing import check_adapter

    def test_contract(tmp_path):
        check_adapter("my-vae", {"epochs": 1, "hidden": 32}, workdir=tmp_path)

Pass the registered name (built-in or entry point) to check the registration too, or the class
itself. What each check means:

* ``interface`` — a subclass of :class:`~adapters.base.GenerativeAdapter` with ``name``,
  ``backend``, ``family`` (``vae``, ``gan`` or ``autoencoder``), ``capabilities`` (``sample``, and
  ``reconstruct`` if it can) and a dataclass ``Config``; registered under its own ``name``.
* ``config`` — a mapping of config values builds the model and an unknown key is refused with a
  ``ValueError`` (a typo in a suite file stops the run instead of being ignored).
* ``fit`` — ``fit(train, seed=0)`` returns a :class:`~adapters.base.FitReport` with at least one
  epoch and one step and a training time ``>= 0``.
* ``sample`` — ``sample(n, seed=...)`` returns float32 ``(n, 1, 28, 28)`` on the CPU, every value
  in ``[0, 1]`` (the metrics quantise these images as they are).
* ``op-counts`` — after ``sample(n)``, ``op_counts()`` is an :class:`~adapters.base.OpCounts` for
  those ``n`` samples that costs some operations (MACs + synaptic operations ``> 0``); an adapter
  whose backend is not ``ann`` is spiking, so it must spike and do synaptic operations. Energy
  and the energy ratio come from these counts (count them with
  :func:`adapters.opcount.measure_ops`).
* ``seeded-sampling`` — the same seed gives the same samples and another seed others: a record
  can be reproduced, and the seeds really draw new noise.
* ``reconstruct`` — with the ``reconstruct`` capability, ``reconstruct(x)`` returns images like
  ``x`` (same shape, float32, in ``[0, 1]``) and counts their operations; without it, it raises
  ``NotImplementedError``.
* ``seeded-training`` — training a fresh model with the same seed gives the same samples: a cell
  is determined by its config and seed.
* ``save-load`` — ``save(path)`` then ``load(path)`` into a fresh model gives the same samples
  (``sample`` and re-evaluation use saved models).
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

import adapters
from adapters.base import CAPABILITIES, FAMILIES, FitReport, GenerativeAdapter, OpCounts


@dataclass(frozen=True)
class Check:
    """One check of the contract: its name and, in one line, what it asks of an adapter."""

    name: str
    meaning: str


#: The contract's checks, in the order :func:`check_adapter` runs them.
CHECKS: tuple[Check, ...] = (
    Check("interface", "a GenerativeAdapter subclass with name, backend, family (vae, gan or "
                       "autoencoder), capabilities (with 'sample') and a dataclass Config, "
                       "registered under its own name"),
    Check("config", "a mapping of config values builds the model; an unknown key raises "
                    "ValueError"),
    Check("fit", "fit(train, seed=0) returns a FitReport with >= 1 epoch, >= 1 step and a "
                 "training time >= 0"),
    Check("sample", "sample(n, seed) returns float32 (n, 1, 28, 28) on the CPU with every value "
                    "in [0, 1]"),
    Check("op-counts", "op_counts() after sample(n) is an OpCounts of n samples with MACs + "
                       "synaptic ops > 0; a backend other than 'ann' spikes and does synaptic "
                       "ops"),
    Check("seeded-sampling", "the same seed gives the same samples, another seed others"),
    Check("reconstruct", "with the 'reconstruct' capability reconstruct(x) returns float32 images "
                         "of x's shape in [0, 1] and counts them; without it, it raises "
                         "NotImplementedError"),
    Check("seeded-training", "a fresh model trained with the same seed gives the same samples"),
    Check("save-load", "save(path) then load(path) into a fresh model gives the same samples"),
)
_MEANING = {c.name: c.meaning for c in CHECKS}


class ContractError(AssertionError):
    """An adapter failed a check of the contract.

    Attributes:
        adapter: the adapter's name (or class name).
        check: the failed check's name (one of :data:`CHECKS`).
    """

    def __init__(self, adapter: str, check: str, found: str) -> None:
        super().__init__(f"{adapter} failed the contract check {check!r} "
                         f"({_MEANING[check]}): {found}")
        self.adapter = adapter
        self.check = check


@dataclass(frozen=True)
class ContractReport:
    """What :func:`check_adapter` ran: the checks passed, in order, and its wall time."""

    adapter: str
    passed: tuple[str, ...]
    seconds: float


def tiny_images(n: int = 64, seed: int = 0) -> Tensor:
    """``n`` images of a bright 6x6 square at a seeded place on a dim noisy background: float32
    ``(n, 1, 28, 28)`` in ``[0, 1]``, structure enough to train on in a second."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 28, 28, generator=gen) * 0.1
    for i, (r, c) in enumerate(torch.randint(4, 18, (n, 2), generator=gen).tolist()):
        x[i, 0, r:r + 6, c:c + 6] = 0.9
    return x


def _describe(x: Any) -> str:
    if isinstance(x, Tensor):
        return f"a {x.dtype} tensor of shape {tuple(x.shape)} on {x.device.type}"
    return f"a {type(x).__name__}"


class _Contract:
    """The state the checks share: the class, its config, the data and the trained model."""

    def __init__(self, cls: type, name: str, registered: bool, config: Mapping[str, Any],
                 images: Tensor, workdir: Path, n: int) -> None:
        self.cls, self.name, self.registered = cls, name, registered
        self.config, self.images, self.workdir, self.n = dict(config), images, workdir, n
        self.model: Any = None
        self.samples: Tensor | None = None

    def fail(self, check: str, found: str) -> ContractError:
        return ContractError(self.name, check, found)

    def call(self, check: str, what: str, fn: Callable[[], Any]) -> Any:
        """``fn()``; an exception it raises fails ``check``, naming ``what`` was called."""
        try:
            return fn()
        except ContractError:
            raise
        except Exception as err:
            raise self.fail(check, f"{what} raised {type(err).__name__}: {err}") from err

    def fresh(self, check: str) -> Any:
        return self.call(check, f"{self.cls.__name__}({self.config})",
                         lambda: self.cls(self.config))

    def check_images(self, check: str, what: str, x: Any, n: int) -> Tensor:
        if not isinstance(x, Tensor) or tuple(x.shape) != (n, 1, 28, 28) \
                or x.dtype != torch.float32 or x.device.type != "cpu":
            raise self.fail(check, f"{what} returned {_describe(x)}; expected a float32 tensor "
                                   f"of shape ({n}, 1, 28, 28) on cpu")
        lo, hi = float(x.min()), float(x.max())
        if not (0.0 <= lo and hi <= 1.0):  # NaN fails too
            raise self.fail(check, f"{what} returned values in [{lo}, {hi}]; allowed: [0, 1]")
        return x

    def counts(self, check: str, n: int, what: str) -> OpCounts:
        counts = self.call(check, "op_counts()", self.model.op_counts)
        if not isinstance(counts, OpCounts):
            raise self.fail(check, f"op_counts() returned {_describe(counts)}; expected an "
                                   f"adapters.base.OpCounts")
        if counts.n_samples != n:
            raise self.fail(check, f"op_counts().n_samples is {counts.n_samples} after {what}; "
                                   f"expected {n}")
        return counts

    def sample(self, check: str, model: Any, seed: int) -> Tensor:
        return self.check_images(check, f"sample({self.n}, seed={seed})",
                                 self.call(check, f"sample({self.n}, seed={seed})",
                                           lambda: model.sample(self.n, seed=seed)), self.n)

    # -- the checks, in the order of CHECKS ------------------------------------------------------
    def interface(self) -> None:
        cls = self.cls
        if not (isinstance(cls, type) and issubclass(cls, GenerativeAdapter)):
            raise self.fail("interface", f"{cls!r} is not a subclass of "
                                         f"adapters.base.GenerativeAdapter")
        for attr, kind in (("name", str), ("backend", str), ("family", str),
                           ("capabilities", frozenset), ("Config", type)):
            value = getattr(cls, attr, None)
            if not isinstance(value, kind) or (kind is str and not value):
                raise self.fail("interface", f"class attribute {attr} is {value!r}; expected a "
                                             f"{'non-empty ' if kind is str else ''}"
                                             f"{kind.__name__}")
        if cls.family not in FAMILIES:
            raise self.fail("interface", f"family is {cls.family!r}; allowed: {sorted(FAMILIES)}")
        if not (cls.capabilities <= CAPABILITIES and "sample" in cls.capabilities):
            raise self.fail("interface", f"capabilities are {sorted(cls.capabilities)}; allowed: "
                                         f"'sample' and optionally 'reconstruct'")
        if not dataclasses.is_dataclass(cls.Config):
            raise self.fail("interface", f"Config ({cls.Config!r}) is not a dataclass")
        if self.registered and cls.name != self.name:
            raise self.fail("interface", f"registered as {self.name!r} but its name is "
                                         f"{cls.name!r}; records would name two adapters")

    def config_check(self) -> None:
        self.model = self.fresh("config")
        bad = {**self.config, "no_such_key_": 1}
        try:
            self.cls(bad)
        except ValueError:
            return
        except Exception as err:
            raise self.fail("config", f"an unknown key raised {type(err).__name__}: {err}; "
                                      f"expected ValueError") from err
        raise self.fail("config", "an unknown key 'no_such_key_' was accepted")

    def fit(self) -> None:
        report = self.call("fit", "fit(train, seed=0)",
                           lambda: self.model.fit(self.images, seed=0, progress=None))
        if not isinstance(report, FitReport):
            raise self.fail("fit", f"fit returned {_describe(report)}; expected a FitReport")
        if not (report.epochs >= 1 and report.steps >= 1 and report.train_seconds >= 0):
            raise self.fail("fit", f"FitReport has epochs={report.epochs}, steps={report.steps}, "
                                   f"train_seconds={report.train_seconds}")

    def sample_check(self) -> None:
        self.samples = self.sample("sample", self.model, seed=3)

    def op_counts(self) -> None:
        counts = self.counts("op-counts", self.n, f"sample({self.n})")
        if not counts.macs + counts.synaptic_ops > 0:
            raise self.fail("op-counts", f"a sample costs macs={counts.macs} + "
                                         f"synaptic_ops={counts.synaptic_ops} = 0 operations")
        if self.cls.backend != "ann" and not (counts.spikes > 0 and counts.synaptic_ops > 0):
            raise self.fail("op-counts", f"backend {self.cls.backend!r} is spiking but a sample "
                                         f"has spikes={counts.spikes}, synaptic_ops="
                                         f"{counts.synaptic_ops}")

    def seeded_sampling(self) -> None:
        if not torch.equal(self.sample("seeded-sampling", self.model, seed=3), self.samples):
            raise self.fail("seeded-sampling", "sample(seed=3) gave other images the second time")
        if torch.equal(self.sample("seeded-sampling", self.model, seed=4), self.samples):
            raise self.fail("seeded-sampling", "seeds 3 and 4 gave the same images")

    def reconstruct(self) -> None:
        x = self.images[:10]
        if "reconstruct" in self.cls.capabilities:
            recon = self.call("reconstruct", "reconstruct(x)", lambda: self.model.reconstruct(x))
            self.check_images("reconstruct", "reconstruct(x) of 10 images", recon, 10)
            self.counts("reconstruct", 10, "reconstruct(x) of 10 images")
            return
        try:
            self.model.reconstruct(x)
        except NotImplementedError:
            return
        except Exception as err:
            raise self.fail("reconstruct", f"without the capability it raised "
                                           f"{type(err).__name__}: {err}") from err
        raise self.fail("reconstruct", "without the 'reconstruct' capability it returned images")

    def seeded_training(self) -> None:
        again = self.fresh("seeded-training")
        self.call("seeded-training", "fit(train, seed=0)",
                  lambda: again.fit(self.images, seed=0, progress=None))
        if not torch.equal(self.sample("seeded-training", again, seed=3), self.samples):
            raise self.fail("seeded-training", "a second model trained with seed 0 gave other "
                                                "samples")

    def save_load(self) -> None:
        path = self.workdir / "model.pt"
        self.call("save-load", f"save({path})", lambda: self.model.save(path))
        restored = self.fresh("save-load")
        self.call("save-load", f"load({path})", lambda: restored.load(path))
        if not torch.equal(self.sample("save-load", restored, seed=3), self.samples):
            raise self.fail("save-load", "the loaded model gave other samples than the saved one")


_STEPS: dict[str, Callable[[_Contract], None]] = {
    "interface": _Contract.interface, "config": _Contract.config_check, "fit": _Contract.fit,
    "sample": _Contract.sample_check, "op-counts": _Contract.op_counts,
    "seeded-sampling": _Contract.seeded_sampling, "reconstruct": _Contract.reconstruct,
    "seeded-training": _Contract.seeded_training, "save-load": _Contract.save_load,
}
if tuple(_STEPS) != tuple(c.name for c in CHECKS):  # one list of checks, in one order
    raise RuntimeError(f"benchmarks.testing: steps {list(_STEPS)} do not match CHECKS")


def check_adapter(adapter: str | type[GenerativeAdapter], config: Mapping[str, Any] | None = None,
                  *, images: Tensor | None = None, workdir: str | Path | None = None,
                  n_samples: int = 12) -> ContractReport:
    """Run the contract's checks (:data:`CHECKS`) on an adapter.

    Args:
        adapter: a registered name (built-in, plugin entry point or ``"package.module:Class"``:
            the registration is checked too) or the adapter class.
        config: a tiny config that trains in about a second on 64 images (the defaults of the
            suite's own adapters take minutes).
        images: training images, float32 ``(N, 1, 28, 28)`` in ``[0, 1]`` with ``N >= 10``;
            default :func:`tiny_images`.
        workdir: where ``save`` writes; a temporary folder (removed afterwards) by default.
        n_samples: images per ``sample`` call.

    Returns:
        The report: every check passed, in order.

    Raises:
        ContractError: the first check that fails (names it and what was found).
        ValueError / ImportError: an unknown name, or a plugin that cannot be loaded.
    """
    start = time.perf_counter()
    if isinstance(adapter, str):
        cls, name, registered = adapters.get_adapter_class(adapter), adapter, ":" not in adapter
    else:
        cls, registered = adapter, False
        name = str(getattr(adapter, "name", None) or getattr(adapter, "__name__", adapter))
    images = tiny_images() if images is None else images
    if not isinstance(images, Tensor) or images.dim() != 4 or images.shape[0] < 10:
        raise ValueError(f"images must be a (N, 1, 28, 28) tensor with N >= 10, got "
                         f"{_describe(images)}")
    with tempfile.TemporaryDirectory(prefix="sgb-contract-") as tmp:
        run = _Contract(cls, name, registered, config or {}, images,
                        Path(workdir) if workdir is not None else Path(tmp), n_samples)
        for step in _STEPS.values():
            step(run)
    return ContractReport(name, tuple(_STEPS), time.perf_counter() - start)
