"""The adapter registry: one place that maps names to ``"module:Class"``, imported lazily.

Importing this package imports no backend library; a backend's module is imported on first use,
so the STDP backend runs without TensorFlow and the harness runs without snntorch.
"""

from __future__ import annotations

import difflib
import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adapters.base import GenerativeAdapter

#: name -> "module:Class". The only registration point. A backend's modules are named
#: ``<backend>.py`` or ``<backend>_<part>.py`` (see :func:`backend_of`).
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
}

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


def backend_of(name: str) -> str:
    """The backend of a registered adapter name, without importing it: the name of its module up
    to the first ``_`` (``adapters.surrogate_vae`` -> ``"surrogate"``)."""
    if name not in ADAPTERS:
        raise _unknown(name)
    return ADAPTERS[name].split(":")[0].rsplit(".", 1)[-1].split("_")[0]


def missing_libraries(name: str) -> list[str]:
    """Optional libraries the adapter ``name`` needs that are not installed here."""
    import importlib.util

    return [lib for lib in BACKEND_LIBRARIES.get(backend_of(name), ())
            if importlib.util.find_spec(lib) is None]


def available() -> list[str]:
    """All registered adapter names, sorted."""
    return sorted(ADAPTERS)


def _unknown(name: str) -> ValueError:
    close = difflib.get_close_matches(name, ADAPTERS, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ValueError(f"unknown adapter {name!r}{hint} Registered adapters: {available()}")


def get_adapter_class(name: str) -> type[GenerativeAdapter]:
    """Resolve a registered name to its class, importing its backend module on first use.

    Raises:
        ValueError: ``name`` is not registered (with a suggestion and the list of names).
        ImportError: the backend's optional library is missing (names how to install it).
    """
    if name not in ADAPTERS:
        raise _unknown(name)
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


def create(name: str, config: Any = None) -> GenerativeAdapter:
    """Instantiate a registered adapter with a config mapping or dataclass (unknown keys fail)."""
    return get_adapter_class(name)(config)
