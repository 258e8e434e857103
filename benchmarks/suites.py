"""Suite files: which adapters (with which configs) x data sets x seeds x budgets a run covers.

A suite is a TOML file in ``benchmarks/suites/`` (or any path)::

    [suite]
    name = "quick"
    description = "..."
    datasets = ["mnist", "fashion-mnist"]
    seeds = [0, 1, 2]
    n_train = 60000          # train images given to fit (0 = the whole split)
    n_eval = 10000           # generated samples, and test images, for FID/KID/PR
    n_recon = 10000          # test images for reconstruction error
    threads = 2              # threads of every cell (benchmarks.execute.apply_threads; recorded)
    energy_model = "horowitz-45nm"
    device = "cpu"           # where cells train and are measured: auto, cpu, cuda, cuda:N, mps
                             # (adapters.device; recorded, not hashed; run --device overrides it)

    [[entry]]
    label = "surrogate-vae-T8"   # row name; unique in the suite; defaults to the adapter name
    adapter = "surrogate-vae"    # a registered adapter (built-in or plugin: python -m benchmarks
                                 # list), or a class on the import path: "package.module:Class"
    config = { timesteps = 8 }   # checked against the adapter's Config when the cell runs
    cpus = 1                     # resources of one cell (the Ray executor asks for them; a
    gpus = 0                     # cell given a GPU by Ray runs on it, whatever device says)
    seeds = [0]                  # optional: this entry's seeds instead of the suite's

Unknown keys anywhere are errors, not silently ignored.
"""

from __future__ import annotations

import difflib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import adapters
from adapters.device import DeviceError, check_device_spec
from benchmarks.data import DATASETS
from benchmarks.metrics.energy import get_energy_model

SUITES_DIR = Path(__file__).parent / "suites"
_LABEL = re.compile(r"^[a-z0-9][a-z0-9.\-]*$")
#: A suite's name names its results folder: a plain identifier, never a path.
_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


@dataclass(frozen=True)
class Entry:
    label: str
    adapter: str
    config: dict[str, Any] = field(default_factory=dict)
    cpus: float = 1.0
    gpus: float = 0.0
    seeds: tuple[int, ...] | None = None  # overrides the suite's seeds (e.g. a one-seed sweep)


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    datasets: tuple[str, ...]
    seeds: tuple[int, ...]
    entries: tuple[Entry, ...]
    n_train: int = 0
    n_eval: int = 10_000
    n_recon: int = 10_000
    threads: int = 2
    energy_model: str = "horowitz-45nm"
    device: str = "cpu"  # a run option like threads: in no config hash (adapters.device)
    path: str = ""

    def entry(self, label: str) -> Entry:
        for e in self.entries:
            if e.label == label:
                return e
        raise ValueError(f"suite {self.name!r} has no entry {label!r}; "
                         f"entries: {[e.label for e in self.entries]}")


_SUITE_KEYS = {"name", "description", "datasets", "seeds", "n_train", "n_eval", "n_recon",
               "threads", "energy_model", "device"}
_ENTRY_KEYS = {"label", "adapter", "config", "cpus", "gpus", "seeds"}


def available_suites() -> list[str]:
    return sorted(p.stem for p in SUITES_DIR.glob("*.toml"))


def suite_path(name_or_path: str | Path) -> Path:
    """A suite name (``quick``) or a path to a TOML file."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.exists():
        if not candidate.is_file():
            raise ValueError(f"suite file {candidate} does not exist")
        return candidate
    path = SUITES_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        close = difflib.get_close_matches(str(name_or_path), available_suites(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown suite {str(name_or_path)!r}{hint} "
                         f"Available suites: {available_suites()}")
    return path


def _fail(path: Path, msg: str) -> ValueError:
    return ValueError(f"bad suite file {path}: {msg}")


def _unknown_keys(path: Path, where: str, got: dict, allowed: set[str]) -> None:
    unknown = sorted(set(got) - allowed)
    if unknown:
        raise _fail(path, f"unknown key(s) {unknown} in {where}; allowed: {sorted(allowed)}")


def _seeds(path: Path, where: str, seeds: Any) -> tuple[int, ...]:
    if not isinstance(seeds, list) or not seeds or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise _fail(path, f"{where}: seeds must be a non-empty list of ints >= 0, got {seeds!r}")
    return tuple(seeds)


def _resolve_adapter(path: Path, i: int, name: Any) -> str:
    """Check entry ``i``'s adapter: a built-in or plugin name, or a ``"package.module:Class"``
    target (imported now, so a broken plugin stops the run before any cell). Returns the entry's
    default label: the name, or a target's class ``name``.

    Raises:
        ValueError: an unknown name (with the registered ones), or a plugin/target that fails to
            import or is not an adapter class (naming its distribution and entry point).
    """
    if isinstance(name, str) and name in adapters.ADAPTERS:
        return name
    try:
        cls = adapters.get_adapter_class(name) if isinstance(name, str) else None
    except adapters.PluginError as err:
        raise _fail(path, f"entry #{i + 1}: {err}") from None
    except ValueError:
        cls = None
    if cls is None:
        known = adapters.available()
        close = difflib.get_close_matches(str(name), known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise _fail(path, f"entry #{i + 1}: unknown adapter {name!r}{hint}; "
                          f"registered: {known}, or a class as 'package.module:Class'")
    return name if name in adapters.plugins() else str(getattr(cls, "name", name))


def load_suite(name_or_path: str | Path) -> Suite:
    """Read and validate a suite file.

    Raises:
        ValueError: unknown suite, TOML syntax error, unknown keys, unknown adapters or data sets,
            a plugin adapter that fails to import or is no adapter class, duplicate labels, bad
            numbers — each naming the file and what is allowed.
    """
    path = suite_path(name_or_path)
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise _fail(path, f"not valid TOML ({err})") from err
    _unknown_keys(path, "the top level", raw, {"suite", "entry"})
    head = raw.get("suite")
    if not isinstance(head, dict):
        raise _fail(path, "missing the [suite] table")
    _unknown_keys(path, "[suite]", head, _SUITE_KEYS)
    for key in ("name", "datasets", "seeds"):
        if key not in head:
            raise _fail(path, f"[suite] needs {key!r}")
    datasets = head["datasets"]
    if not isinstance(datasets, list) or not datasets:
        raise _fail(path, "datasets must be a non-empty list")
    for d in datasets:
        if d not in DATASETS:
            raise _fail(path, f"unknown dataset {d!r}; allowed: {list(DATASETS)}")
    seeds = _seeds(path, "[suite]", head["seeds"])
    ints = {}
    for key, default, low in (("n_train", 0, 0), ("n_eval", 10_000, 1), ("n_recon", 10_000, 0),
                              ("threads", 2, 1)):
        value = head.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise _fail(path, f"{key} must be an int >= {low}, got {value!r}")
        ints[key] = value
    raw_entries = raw.get("entry", [])
    if not isinstance(raw_entries, list) or not raw_entries:
        raise _fail(path, "needs at least one [[entry]]")
    entries = []
    for i, item in enumerate(raw_entries):
        _unknown_keys(path, f"entry #{i + 1}", item, _ENTRY_KEYS)
        name = item.get("adapter")
        default_label = _resolve_adapter(path, i, name)
        label = item.get("label", default_label)
        if not isinstance(label, str) or not _LABEL.match(label):
            given = "" if "label" in item else f" (the default for adapter {name!r}; set label)"
            raise _fail(path, f"entry #{i + 1}: label {label!r}{given} must match "
                              f"{_LABEL.pattern}")
        config = item.get("config", {})
        if not isinstance(config, dict):
            raise _fail(path, f"entry {label!r}: config must be a table")
        cpus, gpus = item.get("cpus", 1), item.get("gpus", 0)
        if not isinstance(cpus, int | float) or cpus <= 0 or not isinstance(gpus, int | float) or gpus < 0:
            raise _fail(path, f"entry {label!r}: cpus must be > 0 and gpus >= 0")
        entry_seeds = _seeds(path, f"entry {label!r}", item["seeds"]) if "seeds" in item else None
        entries.append(Entry(label=label, adapter=name, config=config, cpus=float(cpus),
                             gpus=float(gpus), seeds=entry_seeds))
    labels = [e.label for e in entries]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise _fail(path, f"duplicate entry labels {dupes}")
    name = head["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail(path, f"name {name!r} must be a plain identifier matching {_NAME.pattern} "
                          f"(it names the results folder)")
    energy_model = head.get("energy_model", "horowitz-45nm")
    try:
        get_energy_model(energy_model)
    except ValueError as err:
        raise _fail(path, f"[suite] energy_model: {err}") from None
    try:
        device = check_device_spec(head.get("device", "cpu"))
    except DeviceError as err:
        raise _fail(path, f"[suite] device: {err}") from None
    suite = Suite(name=name, description=str(head.get("description", "")),
                  datasets=tuple(datasets), seeds=tuple(seeds), entries=tuple(entries),
                  energy_model=energy_model, device=device, path=str(path), **ints)
    validate_entries(suite)
    return suite


def validate_entries(suite: Suite) -> None:
    """Check every entry's config against its adapter's Config (types, ranges, unknown keys),
    so a bad value stops the run before any cell trains.

    Every adapter class imports without its backend library (TensorFlow, snntorch, spyker), so
    this holds for every backend; a class that cannot be imported here is left to its cell.

    Raises:
        ValueError: an entry's config has an unknown key or a bad value (names the file, the
            entry, the key, the value and what is allowed).
    """
    for entry in suite.entries:
        try:
            cls = adapters.get_adapter_class(entry.adapter)
        except adapters.PluginError as err:
            raise _fail(Path(suite.path), f"entry {entry.label!r}: {err}") from None
        except ImportError:
            continue
        try:
            adapters.base.config_from_dict(cls.Config, entry.config)
        except (TypeError, ValueError) as err:
            raise _fail(Path(suite.path), f"entry {entry.label!r}: {err}") from err
