"""Plugin adapters (entry points of real, installed distributions), "module:Class" suite entries,
the public contract check, and op counts of a foreign torch model counted by hand.

A distribution here is what ``pip install`` leaves: a ``<name>-<version>.dist-info`` folder with
``METADATA`` and ``entry_points.txt`` beside its modules, in a folder on ``sys.path``;
``importlib.metadata`` discovers it exactly as it discovers a pip-installed one.
"""

from __future__ import annotations

import logging
import sys
import textwrap
from typing import ClassVar

import pytest
import torch
from torch import nn

import adapters
import benchmarks.__main__ as cli
from adapters.ann import AnnVAE
from adapters.opcount import measure_ops
from benchmarks.suites import load_suite
from benchmarks.testing import CHECKS, ContractError, check_adapter
from tests.fakes import tiny_suite

TINY = {"epochs": 1, "hidden": 16, "latent": 4, "batch_size": 32}

#: A working plugin module: a subclass of a built-in adapter under its own name.
TOY_MODULE = '''
from typing import ClassVar
from adapters.ann import AnnVAE

class ToyVAE(AnnVAE):
    name: ClassVar[str] = "toy-vae"
'''


@pytest.fixture
def install(tmp_path, monkeypatch):
    """``install(dist, {entry name: target}, {module: source})``: a distribution in a folder put
    on ``sys.path``, its modules beside it; everything is undone after the test."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    modules: list[str] = []

    def _install(dist: str, entry_points: dict[str, str], sources: dict[str, str] | None = None,
                 version: str = "0.1.0") -> None:
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\n"
                                       f"Version: {version}\n")
        lines = [f"{name} = {target}" for name, target in entry_points.items()]
        (info / "entry_points.txt").write_text("[spikegenbench.adapters]\n" + "\n".join(lines)
                                               + "\n")
        for module, source in (sources or {}).items():
            (site / f"{module}.py").write_text(textwrap.dedent(source))
            modules.append(module)
        adapters.refresh_plugins()

    yield _install
    for module in modules:
        sys.modules.pop(module, None)
    monkeypatch.undo()
    adapters.refresh_plugins()


def _errors(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


# -- discovery -----------------------------------------------------------------------------------

def test_a_plugin_is_registered_listed_and_checked_by_its_entry_point(install, capsys):
    install("sgb-toy", {"toy-vae": "sgb_toy_mod:ToyVAE"}, {"sgb_toy_mod": TOY_MODULE})
    assert "toy-vae" in adapters.available() and "ann-vae" in adapters.available()
    cls = adapters.get_adapter_class("toy-vae")
    assert cls.__module__ == "sgb_toy_mod" and issubclass(cls, AnnVAE)
    assert adapters.backend_of("toy-vae") == "ann"
    assert adapters.missing_libraries("toy-vae") == []
    (source,) = [s for s in adapters.sources() if s.name == "toy-vae"]
    assert (source.origin, source.target, source.distribution, source.problem) == \
        ("plugin", "sgb_toy_mod:ToyVAE", "sgb-toy 0.1.0", None)
    assert cli.main(["list"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "toy-vae" in x)
    assert "plugin of sgb-toy 0.1.0" in line and "sgb_toy_mod:ToyVAE" in line
    report = check_adapter("toy-vae", TINY)
    assert report.passed == tuple(c.name for c in CHECKS)


def test_a_plugin_runs_in_a_suite_like_a_built_in(install, tmp_path):
    from benchmarks.plan import select_cells
    from tests.fakes import run_suite

    install("sgb-toy", {"toy-vae": "sgb_toy_mod:ToyVAE"}, {"sgb_toy_mod": TOY_MODULE})
    path = tmp_path / "toy.toml"
    path.write_text(tiny_suite("toy", '[[entry]]\nadapter = "toy-vae"\n'
                                      'config = { epochs = 1, hidden = 16, latent = 4 }\n'))
    suite = load_suite(path)
    assert suite.entries[0].label == "toy-vae"
    (record,) = run_suite(suite, select_cells(suite), results_dir=tmp_path / "runs")
    assert record["status"] == "ok", record["error"]
    assert record["adapter"]["name"] == "toy-vae" and record["adapter"]["backend"] == "ann"
    assert record["metrics"]["fid"] is not None and record["metrics"]["macs_per_sample"] > 0


def test_a_plugin_that_fails_to_import_names_its_distribution_and_the_others_keep_working(
        install, tmp_path, capsys, caplog):
    install("sgb-broken", {"broken-vae": "sgb_broken_mod:BrokenVAE"},
            {"sgb_broken_mod": "import sgb_no_such_library_xyz\n"}, version="0.2")
    install("sgb-toy", {"toy-vae": "sgb_toy_mod:ToyVAE"}, {"sgb_toy_mod": TOY_MODULE})
    with pytest.raises(adapters.PluginError) as err:
        adapters.get_adapter_class("broken-vae")
    message = str(err.value)
    assert "distribution 'sgb-broken 0.2'" in message
    assert "entry point broken-vae = sgb_broken_mod:BrokenVAE" in message
    assert "failed to import module 'sgb_broken_mod'" in message
    assert "No module named 'sgb_no_such_library_xyz'" in message
    # the others keep working
    assert adapters.get_adapter_class("toy-vae").name == "toy-vae"
    assert adapters.get_adapter_class("ann-vae") is AnnVAE
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "toy-vae" in out and "ann-vae" in out
    assert f"CANNOT BE USED: {message}" in out
    # a suite naming it stops before any cell, with the same message
    path = tmp_path / "broken.toml"
    path.write_text(tiny_suite("broken", '[[entry]]\nadapter = "broken-vae"\n'))
    with caplog.at_level(logging.ERROR):
        assert cli.main(["run", "--suite", str(path), "--results-dir", str(tmp_path)]) == 2
    assert message in _errors(caplog)[-1] and "entry #1" in _errors(caplog)[-1]


@pytest.mark.parametrize(("source", "kind"), [
    ("class NotAnAdapter:\n    pass\n", "class NotAnAdapter"),
    ("def NotAnAdapter():\n    pass\n", "function"),
])
def test_a_plugin_that_is_not_an_adapter_class_is_refused(install, source, kind):
    install("sgb-odd", {"odd-vae": "sgb_odd_mod:NotAnAdapter"}, {"sgb_odd_mod": source})
    with pytest.raises(adapters.PluginError, match=(
            r"plugin adapter 'odd-vae' \(entry point odd-vae = sgb_odd_mod:NotAnAdapter in group "
            r"'spikegenbench.adapters' of distribution 'sgb-odd 0.1.0'\): sgb_odd_mod:NotAnAdapter "
            rf"is not a subclass of adapters.base.GenerativeAdapter \(it is a {kind}\)")):
        adapters.get_adapter_class("odd-vae")


def test_a_plugin_that_does_not_implement_the_interface_is_refused(install):
    install("sgb-half", {"half-vae": "sgb_half_mod:HalfVAE"}, {"sgb_half_mod": '''
        from adapters.base import GenerativeAdapter

        class HalfVAE(GenerativeAdapter):
            def fit(self, train, *, seed, progress=None):
                pass
        '''})
    with pytest.raises(adapters.PluginError, match=r"sgb-half 0\.1\.0.*does not implement "
                                                   r"\['load', 'op_counts', 'sample', 'save'\]"):
        adapters.get_adapter_class("half-vae")


def test_a_plugin_whose_name_clashes_with_a_built_in_is_refused_and_the_built_in_kept(
        install, capsys):
    install("sgb-clash", {"ann-vae": "sgb_toy_mod:ToyVAE"}, {"sgb_toy_mod": TOY_MODULE})
    assert adapters.get_adapter_class("ann-vae") is AnnVAE
    assert "ann-vae" not in adapters.plugins()
    (refused,) = adapters.refused_plugins()
    assert refused.distribution == "sgb-clash 0.1.0"
    assert "clashes with the built-in adapter 'ann-vae' (adapters.ann:AnnVAE)" in refused.refused
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert ("CANNOT BE USED: plugin adapter 'ann-vae' (entry point ann-vae = sgb_toy_mod:ToyVAE "
            "in group 'spikegenbench.adapters' of distribution 'sgb-clash 0.1.0') is not "
            "registered: its name clashes with the built-in adapter 'ann-vae'") in out


def test_two_distributions_with_one_name_are_both_refused_naming_each_other(install):
    install("sgb-one", {"dup-vae": "sgb_toy_mod:ToyVAE"}, {"sgb_toy_mod": TOY_MODULE})
    install("sgb-two", {"dup-vae": "sgb_toy_mod:ToyVAE"})
    assert "dup-vae" not in adapters.available()
    with pytest.raises(adapters.PluginError) as err:
        adapters.get_adapter_class("dup-vae")
    message = str(err.value)
    assert "distribution 'sgb-one 0.1.0'" in message and "distribution 'sgb-two 0.1.0'" in message
    assert "clashes with the plugin adapter of the same name in distribution(s) ['sgb-two " \
           "0.1.0']" in message


# -- "module:Class" in a suite file --------------------------------------------------------------

def test_a_suite_entry_may_name_a_class_and_is_labelled_by_its_name(install, tmp_path):
    install("sgb-none", {}, {"sgb_toy_mod": TOY_MODULE})
    path = tmp_path / "target.toml"
    path.write_text(tiny_suite("target", '[[entry]]\nadapter = "sgb_toy_mod:ToyVAE"\n'
                                         'config = { hidden = 16 }\n'))
    (entry,) = load_suite(path).entries
    assert (entry.label, entry.adapter) == ("toy-vae", "sgb_toy_mod:ToyVAE")
    assert adapters.create(entry.adapter, entry.config).config.hidden == 16


@pytest.mark.parametrize(("target", "found"), [
    ("sgb_no_such_module_xyz:Model",
     "adapter 'sgb_no_such_module_xyz:Model' failed to import module 'sgb_no_such_module_xyz': "
     "ModuleNotFoundError"),
    ("adapters.ann:NoSuchClass", "module 'adapters.ann' has no attribute 'NoSuchClass'"),
    ("adapters.ann:build_mlp", "adapters.ann:build_mlp is not a subclass of "
                               "adapters.base.GenerativeAdapter (it is a function)"),
])
def test_a_bad_class_target_in_a_suite_stops_it_naming_the_target(tmp_path, target, found):
    path = tmp_path / "bad.toml"
    path.write_text(tiny_suite("bad", f'[[entry]]\nlabel = "x"\nadapter = "{target}"\n'))
    with pytest.raises(ValueError, match="bad suite file") as err:
        load_suite(path)
    assert found in str(err.value) and "entry #1" in str(err.value)


def test_an_unknown_adapter_in_a_suite_lists_the_plugins_too(install, tmp_path):
    install("sgb-toy", {"toy-vae": "sgb_toy_mod:ToyVAE"}, {"sgb_toy_mod": TOY_MODULE})
    path = tmp_path / "typo.toml"
    path.write_text(tiny_suite("typo", '[[entry]]\nadapter = "toy-vea"\n'))
    with pytest.raises(ValueError, match=r"unknown adapter 'toy-vea' \(did you mean 'toy-vae'\?\)"
                                         r".*'toy-vae'.*'package.module:Class'"):
        load_suite(path)


# -- the contract as a public check: every check can fail ---------------------------------------

class _Broken(AnnVAE):
    name: ClassVar[str] = "broken-vae"


class WrongFamily(_Broken):
    family: ClassVar[str] = "flow"


class AcceptsAnyKey(_Broken):
    def __init__(self, config=None):
        known = {k: v for k, v in (config or {}).items() if k != "no_such_key_"}
        super().__init__(known)


class NoFitReport(_Broken):
    def fit(self, train, *, seed, progress=None):
        super().fit(train, seed=seed)


class OutOfRange(_Broken):
    def sample(self, n, *, seed):
        return super().sample(n, seed=seed) * 2


class SilentSpiking(_Broken):
    backend: ClassVar[str] = "surrogate"  # claims to spike, but counts only MACs


class IgnoresSeed(_Broken):
    def sample(self, n, *, seed):
        return super().sample(n, seed=0)


class ReconstructsWithoutCapability(_Broken):
    capabilities: ClassVar[frozenset[str]] = frozenset({"sample"})


class UnseededTraining(_Broken):
    runs = 0

    def fit(self, train, *, seed, progress=None):
        UnseededTraining.runs += 1
        return super().fit(train, seed=seed + UnseededTraining.runs, progress=progress)


class ForgetfulLoad(_Broken):
    def load(self, path):
        pass


@pytest.mark.parametrize(("cls", "check", "found"), [
    (WrongFamily, "interface", "family is 'flow'; allowed: ['autoencoder', 'diffusion', 'gan', 'vae']"),
    (AcceptsAnyKey, "config", "an unknown key 'no_such_key_' was accepted"),
    (NoFitReport, "fit", "fit returned a NoneType; expected a FitReport"),
    (OutOfRange, "sample", "returned values in [0."),
    (SilentSpiking, "op-counts", "backend 'surrogate' is spiking but a sample has spikes=0.0"),
    (IgnoresSeed, "seeded-sampling", "seeds 3 and 4 gave the same images"),
    (ReconstructsWithoutCapability, "reconstruct",
     "without the 'reconstruct' capability it returned images"),
    (UnseededTraining, "seeded-training", "a second model trained with seed 0 gave other samples"),
    (ForgetfulLoad, "save-load", "the loaded model gave other samples than the saved one"),
])
def test_each_contract_check_fails_an_adapter_that_breaks_it(cls, check, found):
    with pytest.raises(ContractError) as err:
        check_adapter(cls, TINY)
    assert err.value.check == check
    meaning = next(c.meaning for c in CHECKS if c.name == check)
    assert f"broken-vae failed the contract check {check!r} ({meaning}): " in str(err.value)
    assert found in str(err.value)


def test_a_registered_name_must_be_the_class_name(monkeypatch):
    monkeypatch.setitem(adapters.ADAPTERS, "alias-vae", "adapters.ann:AnnVAE")
    with pytest.raises(ContractError, match="registered as 'alias-vae' but its name is 'ann-vae'"):
        check_adapter("alias-vae", TINY)


# -- op counts of any torch model ----------------------------------------------------------------

class StepLIF(nn.Module):
    """A foreign neuron: integrate the input, spike at 1, reset to 0; returns (spikes, state)."""

    def forward(self, x, v=None):
        v = x if v is None else v + x
        spikes = (v >= 1.0).float()
        return spikes, v * (1 - spikes)


class ToySNN(nn.Module):
    """Linear(3 -> 2) fed real values -> StepLIF -> Linear(2 -> 4) fed its spikes, over T steps."""

    def __init__(self):
        super().__init__()
        self.fc1, self.neuron, self.fc2 = nn.Linear(3, 2, bias=False), StepLIF(), nn.Linear(2, 4)
        with torch.no_grad():
            self.fc1.weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))

    def run(self, x, steps):
        v = None
        for _ in range(steps):
            spikes, v = self.neuron(self.fc1(x), v)
            self.fc2(spikes)


def test_measure_ops_counts_a_foreign_network_as_counted_by_hand():
    model = ToySNN()
    # sample 0: neuron 0 gets 0.6 per step -> v 0.6, 1.2 (spike, reset), 0.6 -> 1 spike in 3 steps
    # sample 1: neuron 0 gets 1.0 per step -> a spike every step -> 3 spikes; neuron 1 never
    x = torch.tensor([[0.6, 5.0, 5.0], [1.0, 0.0, 0.0]])
    counts = measure_ops(model, lambda: model.run(x, 3), n_samples=2, timesteps=3,
                         spiking=(StepLIF,))
    # fc1 gets real values: 3 x 2 MACs per sample per step; fc2 gets spikes: 4 targets per spike
    assert counts.macs == 3 * 2 * 3
    assert counts.spikes == (1 + 3) / 2
    assert counts.synaptic_ops == (1 + 3) * 4 / 2
    assert counts.neuron_updates == 2 * 3 and counts.neurons_per_layer == {"neuron": 2}
    assert counts.firing_rate == 4 / 12 and counts.timesteps == 3 and counts.n_samples == 2
    # named layers and the dense flag: every connection a MAC, spikes or not
    dense = measure_ops(model, lambda: model.run(x, 3), n_samples=2, timesteps=3,
                        spiking={"lif": model.neuron}, dense=True)
    assert dense.spikes_per_layer == {"lif": 2.0}
    assert dense.macs == (3 * 2 + 2 * 4) * 3 and dense.synaptic_ops == 0


def test_measure_ops_refuses_bad_arguments():
    model = ToySNN()
    with pytest.raises(ValueError, match=r"holds no module of the spiking types \['Leaky'\]"):
        measure_ops(model, lambda: None, n_samples=1, timesteps=1,
                    spiking=(type("Leaky", (nn.Module,), {}),))
    with pytest.raises(ValueError, match="timesteps must be an int >= 1, got 0"):
        measure_ops(model, lambda: None, n_samples=1, timesteps=0)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module, got function"):
        measure_ops(lambda: None, lambda: None, n_samples=1, timesteps=1)
