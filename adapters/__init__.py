"""The adapter registry: names -> ``"module:Class"``, imported lazily, built-in and plugin.

Three kinds of name resolve to an adapter class (:func:`get_adapter_class`):

* a **built-in** adapter of :data:`ADAPTERS`, the registry of this package;
* a **plugin**: an entry point of the group :data:`ENTRY_POINT_GROUP` (``spikegenbench.adapters``)
  that an installed distribution declares, ``name = "package.module:Class"``, e.g. in its
  ``pyproject.toml``::

      [project.entry-points."spikegenbench.adapters"]
      norse-vae = "sgb_norse_vae.adapter:NorseVAE"

* a ``"package.module:Class"`` target itself (a suite entry may name one: ``adapter =
  "mypackage.models:MyVAE"``), for a class on the import path that no distribution registers.

A plugin whose module fails to import, whose target is not a subclass of
:class:`~adapters.base.GenerativeAdapter`, or whose name clashes with a built-in adapter (or with
another distribution's plugin) raises a :class:`PluginError` naming the distribution and the
entry point when it is used; the other adapters keep working. :func:`sources` lists every adapter
with where it comes from (``python -m benchmarks list``).

Importing this package imports no backend library; a backend's module is imported on first use,
so the STDP backend runs without TensorFlow and the harness runs without snntorch. Plugins are
discovered by reading the installed distributions' metadata; a plugin's module is imported only
when it is used (or listed).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib
import inspect
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adapters.base import GenerativeAdapter

#: name -> "module:Class". The only registration point of the built-in adapters. A backend's
#: modules are named ``<backend>.py`` or ``<backend>_<part>.py`` (see :func:`backend_of`).
ADAPTERS: dict[str, str] = {
    "ann-vae": "adapters.ann:AnnVAE",
    "ann-vae-gaussian": "adapters.ann:AnnGaussianVAE",
    "ann-vae-learned-prior": "adapters.ann:AnnVAELearnedPrior",
    "ann-gan": "adapters.ann:AnnGAN",
    "surrogate-vae": "adapters.surrogate_vae:SurrogateVAE",
    "surrogate-gan": "adapters.surrogate_gan:SurrogateGAN",
    "conversion-vae": "adapters.conversion:ConversionVAE",
    "conversion-gan": "adapters.conversion:ConversionGAN",
    "stdp-ae": "adapters.stdp:StdpAE",
    "ann-ddpm": "adapters.ann_ddpm:AnnDDPM",
    "surrogate-ddpm": "adapters.surrogate_ddpm:SurrogateDDPM",
}

#: The entry-point group through which installed distributions register adapters (plugins).
ENTRY_POINT_GROUP = "spikegenbench.adapters"

#: Which extra / tox environment installs the library a backend module needs.
INSTALL_HINTS: dict[str, str] = {
    "snntorch": "pip install -e '.[surrogate]' (or run it through tox -e tests / tox -e quick)",
    "spyker": "pip install -e '.[stdp]' (or run it through tox -e tests / tox -e quick)",
    "tensorflow": "tox -e conversion (TensorFlow 2.21 + tf-keras + snntoolbox in their own env)",
    "tf_keras": "tox -e conversion (TensorFlow 2.21 + tf-keras + snntoolbox in their own env)",
    "snntoolbox": "tox -e conversion (TensorFlow 2.21 + tf-keras + snntoolbox in their own env)",
}


#: Libraries each backend module needs beyond the core dependencies.
BACKEND_LIBRARIES: dict[str, tuple[str, ...]] = {
    "ann": (),
    "surrogate": ("snntorch",),
    "stdp": ("spyker",),
    "conversion": ("tensorflow", "tf_keras", "snntoolbox"),
}

#: Backends that run in their own tox environment and process (TensorFlow stays out of the main one).
ISOLATED_BACKENDS: dict[str, str] = {"conversion": "conversion"}


class PluginError(ImportError):
    """A plugin adapter (or a ``"module:Class"`` target) that cannot be used: its module fails
    to import, it is not a :class:`~adapters.base.GenerativeAdapter` subclass, or its name clashes
    with another adapter's. The message names the distribution and the entry point."""


@dataclass(frozen=True)
class Plugin:
    """One entry point of :data:`ENTRY_POINT_GROUP`.

    Attributes:
        name: the adapter name (the entry point's name).
        target: ``"package.module:Class"`` (the entry point's value).
        distribution: the declaring distribution, ``"<name> <version>"``.
        refused: why the name is not registered (a clash), or ``None``.
    """

    name: str
    target: str
    distribution: str
    refused: str | None = None

    @property
    def where(self) -> str:
        """The entry point and its distribution, as every plugin error names them."""
        return (f"plugin adapter {self.name!r} (entry point {self.name} = {self.target} in group "
                f"{ENTRY_POINT_GROUP!r} of distribution {self.distribution!r})")


@dataclass(frozen=True)
class AdapterSource:
    """Where an adapter name comes from (a line of ``python -m benchmarks list``).

    Attributes:
        name: the adapter name.
        origin: ``"built-in"`` (:data:`ADAPTERS`) or ``"plugin"`` (an entry point).
        target: ``"package.module:Class"``.
        distribution: the plugin's distribution, ``"<name> <version>"``; ``None`` for built-ins.
        problem: why the adapter cannot be used (a plugin that fails to load or clashes with
            another name), or ``None``.
    """

    name: str
    origin: str
    target: str
    distribution: str | None = None
    problem: str | None = None


@functools.cache
def _entry_points() -> tuple[Plugin, ...]:
    """Every entry point of the group in the installed distributions (metadata only: nothing is
    imported), in a stable order. Cached; :func:`refresh_plugins` reads them again."""
    found = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        where = f"{dist.name} {dist.version}" if dist is not None else "unknown distribution"
        found.append(Plugin(ep.name, ep.value, where))
    return tuple(sorted(found, key=lambda p: (p.name, p.distribution, p.target)))


def refresh_plugins() -> None:
    """Read the installed distributions' entry points again (after installing one while this
    process runs, or after putting a folder with distributions on ``sys.path``)."""
    importlib.invalidate_caches()
    _entry_points.cache_clear()


def _sorted_plugins() -> tuple[dict[str, Plugin], list[Plugin]]:
    """The plugins registered under their name, and those refused (with the reason)."""
    by_name: dict[str, list[Plugin]] = {}
    for plugin in _entry_points():
        by_name.setdefault(plugin.name, []).append(plugin)
    accepted: dict[str, Plugin] = {}
    refused: list[Plugin] = []
    for name, found in by_name.items():
        if name in ADAPTERS:
            refused += [dataclasses.replace(p, refused=(
                f"its name clashes with the built-in adapter {name!r} ({ADAPTERS[name]}); the "
                f"built-in keeps the name: rename the entry point")) for p in found]
        elif len(found) > 1:
            refused += [dataclasses.replace(p, refused=(
                f"its name clashes with the plugin adapter of the same name in distribution(s) "
                f"{[o.distribution for o in found if o is not p]}; neither is registered: "
                f"rename one entry point or uninstall one distribution")) for p in found]
        else:
            accepted[name] = found[0]
    return accepted, refused


def plugins() -> dict[str, Plugin]:
    """The plugin adapters registered by installed distributions, by name (clashes left out:
    see :func:`refused_plugins`)."""
    return _sorted_plugins()[0]


def refused_plugins() -> list[Plugin]:
    """Entry points that are not registered because their name clashes with a built-in adapter
    or with another distribution's plugin; each with its :attr:`Plugin.refused` reason."""
    return _sorted_plugins()[1]


def backend_of(name: str) -> str:
    """The backend of an adapter name: for a built-in, without importing it, the name of its
    module up to the first ``_`` (``adapters.surrogate_vae`` -> ``"surrogate"``); for a plugin
    or a ``"module:Class"`` target, its class's ``backend`` (importing it)."""
    if name in ADAPTERS:
        return ADAPTERS[name].split(":")[0].rsplit(".", 1)[-1].split("_")[0]
    return str(get_adapter_class(name).backend)


def missing_libraries(name: str) -> list[str]:
    """Optional libraries the built-in adapter ``name`` needs that are not installed here.

    Always empty for a plugin or a ``"module:Class"`` target: its libraries are its
    distribution's dependencies, and a module that fails to import is a :class:`PluginError`.
    """
    import importlib.util

    if name not in ADAPTERS:
        return []
    return [lib for lib in BACKEND_LIBRARIES.get(backend_of(name), ())
            if importlib.util.find_spec(lib) is None]


def available() -> list[str]:
    """All registered adapter names, built-in and plugin, sorted."""
    return sorted({*ADAPTERS, *plugins()})


def _unknown(name: str) -> ValueError:
    close = difflib.get_close_matches(name, available(), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ValueError(f"unknown adapter {name!r}{hint} Registered adapters: {available()} "
                      f"(or name a class as 'package.module:Class')")


def _load_target(target: str, where: str) -> type[GenerativeAdapter]:
    """Import ``"package.module:Class"`` and check that it is a usable adapter class.

    Raises:
        PluginError: a malformed target, a module that fails to import (any exception), a
            missing attribute, or something that is not a concrete ``GenerativeAdapter``
            subclass; the message starts with ``where``.
    """
    from adapters.base import GenerativeAdapter

    module_name, _, attr = target.partition(":")
    if not module_name or not attr or ":" in attr:
        raise PluginError(f"{where}: target {target!r} must be 'package.module:Class'")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as err:  # a plugin's module may raise anything on import
        raise PluginError(f"{where} failed to import module {module_name!r}: "
                          f"{type(err).__name__}: {err}") from err
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise PluginError(f"{where}: module {module_name!r} has no attribute {attr!r}") \
                from None
    if not (isinstance(obj, type) and issubclass(obj, GenerativeAdapter)):
        kind = f"class {obj.__qualname__}" if isinstance(obj, type) else type(obj).__name__
        raise PluginError(f"{where}: {target} is not a subclass of "
                          f"adapters.base.GenerativeAdapter (it is a {kind})")
    if inspect.isabstract(obj):
        todo = sorted(getattr(obj, "__abstractmethods__", ()))
        raise PluginError(f"{where}: {target} does not implement {todo} of "
                          f"adapters.base.GenerativeAdapter")
    return obj


def get_adapter_class(name: str) -> type[GenerativeAdapter]:
    """Resolve an adapter name (built-in, plugin or ``"module:Class"``) to its class, importing
    its module on first use.

    Raises:
        ValueError: ``name`` is not registered and not a ``"module:Class"`` target (with a
            suggestion and the list of names).
        ImportError: a built-in backend's optional library is missing (names how to install it).
        PluginError: a plugin (or target) that fails to import, is not an adapter class or
            whose name clashes with another distribution's (names the distribution and the
            entry point).
    """
    if name in ADAPTERS:
        module_name, class_name = ADAPTERS[name].split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            missing = (err.name or "").split(".")[0]
            if missing in INSTALL_HINTS:
                raise ImportError(
                    f"adapter {name!r} needs the optional library {missing!r}, which is not "
                    f"installed; install it with: {INSTALL_HINTS[missing]}"
                ) from err
            raise
        return getattr(module, class_name)
    accepted, refused = _sorted_plugins()
    if name in accepted:
        return _load_target(accepted[name].target, accepted[name].where)
    clashing = [p for p in refused if p.name == name]
    if clashing:
        raise PluginError("; ".join(f"{p.where} is not registered: {p.refused}" for p in clashing))
    if ":" in name:
        return _load_target(name, f"adapter {name!r}")
    raise _unknown(name)


def sources(*, load: bool = True) -> list[AdapterSource]:
    """Every adapter name with where it comes from, sorted by name; refused plugins (name
    clashes) are listed too, each with its problem.

    Args:
        load: import each plugin to report one that fails to import or is not an adapter class
            (built-ins are never imported here: their backends' libraries may be missing).
    """
    accepted, refused = _sorted_plugins()
    out = [AdapterSource(name, "built-in", target) for name, target in ADAPTERS.items()]
    for plugin in accepted.values():
        problem = None
        if load:
            try:
                _load_target(plugin.target, plugin.where)
            except PluginError as err:
                problem = str(err)
        out.append(AdapterSource(plugin.name, "plugin", plugin.target, plugin.distribution,
                                 problem))
    out += [AdapterSource(p.name, "plugin", p.target, p.distribution,
                          f"{p.where} is not registered: {p.refused}") for p in refused]
    return sorted(out, key=lambda s: (s.name, s.origin != "built-in", s.distribution or ""))


def create(name: str, config: Any = None) -> GenerativeAdapter:
    """Instantiate an adapter (see :func:`get_adapter_class`) with a config mapping or
    dataclass (unknown keys fail)."""
    return get_adapter_class(name)(config)
