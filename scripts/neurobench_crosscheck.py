"""Cross-check the suite's op counts against NeuroBench's on the same forward passes.

For every row of a suite (``quick`` by default) whose network is a PyTorch module, the adapter is
built with the suite's config (untrained unless ``--results-dir`` holds its saved model: dense
counts do not depend on the weights, spike-driven ones do, but both counters watch the very same
forward pass, so they must agree either way), NeuroBench's hooks are put on its layers, and one
``sample`` call is counted by both. The script prints, per row, our counts beside NeuroBench's
``SynapticOperations`` (``Effective_MACs``, ``Effective_ACs``, ``Dense``) and ``MembraneUpdates``,
and explains every difference by NeuroBench's rules; a difference it cannot explain is printed as
``UNEXPLAINED`` and makes the exit code 1.

Where the two count differently (NeuroBench 2.3.0, read from its source):

* **Layers NeuroBench does not support**: it hooks ``Linear`` and ``Conv1d/2d/3d`` (and recurrent
  layers); a ``ConvTranspose2d`` is not hooked and counts 0.
* **Binary input to an ANN**: NeuroBench calls any layer fed 0/1 values "spiking" and counts
  accumulates; the suite counts an ANN baseline's layers as dense MACs whatever they are fed
  (ordinary hardware multiplies every weight). So ``ann-gan``'s first layer, fed Bernoulli noise,
  is MACs here and ACs there; the totals (ours ``effective_macs + synaptic_ops`` against
  NeuroBench's ``Effective_MACs + Effective_ACs``) still agree.
* **Zero weights**: NeuroBench's effective counts skip connections whose weight is exactly 0; the
  suite counts every connection (trained float weights are practically never exactly 0).
* **Bit-by-bit sampling**: ``ann-vae-learned-prior`` draws its latent bit by bit, calling its MADE
  prior ``L`` times; NeuroBench counts every call, the suite one incremental pass (each new bit's
  column added once to the hidden pre-activations).
* **Step-by-step spiking prior**: ``surrogate-vae``'s learned prior generates its latent by
  re-running its network on ``z[0..t]`` for every step ``t`` (a simulation convenience), then runs
  it once more over all ``T`` steps, the pass a chip would run and the one the suite counts;
  NeuroBench counts the generating passes too. The script counts those passes with the suite's
  counter and adds them before comparing.
* **Membrane updates**: NeuroBench counts, after the first step, only neurons whose membrane
  changed (``pre != post`` firing), and only ``snntorch`` neurons that keep ``.mem``; the suite
  counts every neuron at every step. Source spike trains are not neurons for either.
* Networks that are not PyTorch modules (``stdp-ae``'s spyker encoder, the conversion rows'
  SNN Toolbox simulation) cannot be hooked by NeuroBench and are skipped.

Usage (NeuroBench installed next to torch, e.g. ``pip install --no-deps neurobench``)::

    python scripts/neurobench_crosscheck.py [--suite quick] [--n 64] [--results-dir runs]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import adapters  # noqa: E402
from adapters.base import OpCounts  # noqa: E402
from benchmarks import records as rec  # noqa: E402
from benchmarks.suites import load_suite  # noqa: E402

#: The layer types NeuroBench's SynapticOperations hooks (neurobench.blocks.layer).
NB_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


class _Hooked:
    """The two attributes NeuroBench's workload metrics read from a ``NeuroBenchModel``."""

    def __init__(self, modules: dict[str, nn.Module]) -> None:
        import snntorch
        from neurobench.hooks.layer import LayerHook
        from neurobench.hooks.neuron import NeuronHook

        layers = {id(m): m for root in modules.values() for m in root.modules()
                  if isinstance(m, NB_LAYERS)}
        neurons = {id(m): m for root in modules.values() for m in root.modules()
                   if isinstance(m, snntorch.SpikingNeuron)}
        self.connection_hooks = [LayerHook(m) for m in layers.values()]
        self.activation_hooks = [NeuronHook(m) for m in neurons.values()]

    def close(self) -> None:
        for hook in (*self.connection_hooks, *self.activation_hooks):
            hook.close()
            if getattr(hook, "hook_pre", None) is not None:
                hook.hook_pre.remove()


def _ours(counts: OpCounts) -> dict[str, float]:
    """Our counts, and the same restricted to the layers NeuroBench supports."""
    layers = counts.layers or {}
    supported = [e for e in layers.values() if e["kind"] == "synapse"
                 and e["type"] in ("Linear", "MaskedLinear", "Conv1d", "Conv2d", "Conv3d")]
    transposed = [e for e in layers.values() if e["kind"] == "synapse"
                  and e["type"] == "ConvTranspose2d"]
    return {
        "macs": counts.macs, "effective_macs": counts.effective_macs or 0.0,
        "synaptic_ops": counts.synaptic_ops, "dense": counts.dense_macs or 0.0,
        "membrane_updates": counts.membrane_updates or 0.0,
        "nb_dense": math.fsum(e["dense_macs"] for e in supported),
        "nb_effective": math.fsum(e["effective_macs"] + e["synaptic_ops"] for e in supported),
        "transposed_dense": math.fsum(e["dense_macs"] for e in transposed),
        "transposed_effective": math.fsum(e["effective_macs"] + e["synaptic_ops"]
                                          for e in transposed),
        "prior_dense": math.fsum(e["dense_macs"] for n, e in layers.items()
                                 if n.startswith("prior.") and e.get("type") == "MaskedLinear"),
    }


def _watch_prior_generation(model: Any) -> Any:
    """An OpCounter over the passes a spiking prior's ``sample`` runs to generate its latent
    (``None`` for a model without one): the passes NeuroBench sees and the suite does not count."""
    from adapters.opcount import OpCounter
    from adapters.spiking import spiking_modules

    prior = getattr(model, "prior", None)
    if model.backend != "surrogate" or not isinstance(prior, nn.Module):
        return None
    counter = OpCounter().watch_synapses(prior, prefix="gen.")
    counter.watch_spikes(spiking_modules("gen", prior))
    generate = prior.sample

    def counted(*args: Any, **kwargs: Any) -> torch.Tensor:
        with counter:
            return generate(*args, **kwargs)

    prior.sample = counted  # this instance only
    return counter


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=0.5)


def check_row(label: str, adapter: str, config: dict[str, Any], n: int,
              model_path: Path | None) -> tuple[list[str], bool]:
    """Count one row both ways; returns the lines to print and whether all was explained."""
    from neurobench.metrics.workload import MembraneUpdates, SynapticOperations

    model = adapters.create(adapter, config)
    if model_path is not None and model_path.is_file():
        model.load(model_path)
    modules = model._modules()  # the adapter's torch modules
    generating = _watch_prior_generation(model)
    hooked = _Hooked(modules)
    try:
        model.sample(n, seed=0)
        dummy = (torch.zeros(n, 1),)
        nb_ops = SynapticOperations()(hooked, None, dummy)
        nb_mem = MembraneUpdates()(hooked, None, dummy) if hooked.activation_hooks else 0.0
    finally:
        hooked.close()
    ours = _ours(model.op_counts())
    gen = generating.counts(n_samples=n, timesteps=1) if generating is not None else None
    nb_dense, nb_eff = nb_ops["Dense"], nb_ops["Effective_MACs"] + nb_ops["Effective_ACs"]
    lines = [f"{label} ({adapter}, {n} samples{', trained' if model_path else ', untrained'})",
             f"  {'count':<34}{'ours':>14}{'NeuroBench':>14}",
             f"  {'dense (all inputs non-zero)':<34}{ours['dense']:>14.1f}{nb_dense:>14.1f}",
             f"  {'effective MACs':<34}{ours['effective_macs']:>14.1f}"
             f"{nb_ops['Effective_MACs']:>14.1f}",
             f"  {'accumulates':<34}{ours['synaptic_ops']:>14.1f}{nb_ops['Effective_ACs']:>14.1f}",
             f"  {'MACs as charged (dense if ANN)':<34}{ours['macs']:>14.1f}{'':>14}",
             f"  {'membrane updates':<34}{ours['membrane_updates']:>14.1f}{nb_mem:>14.1f}"]
    explained = True
    if ours["transposed_dense"]:
        lines.append(f"  - ConvTranspose2d is not hooked by NeuroBench: ours has "
                     f"{ours['transposed_dense']:.1f} dense, {ours['transposed_effective']:.1f} "
                     f"effective ops there")
    if ours["macs"] != ours["effective_macs"] and nb_ops["Effective_ACs"] and model.backend == "ann":
        lines.append("  - an ANN layer fed 0/1 values: MACs here (dense hardware), ACs in "
                     "NeuroBench; the totals below compare both kinds together")
    prior_extra = 0.0
    if ours["prior_dense"]:
        latent = model.config.latent
        prior_extra = (latent - 1) * ours["prior_dense"]
        lines.append(f"  - bit-by-bit prior: NeuroBench counts its {latent} passes, ours one "
                     f"incremental pass ({ours['prior_dense']:.1f} dense ops): NeuroBench's dense "
                     f"should be {prior_extra:.1f} higher")
    gen_dense = gen_effective = gen_updates = 0.0
    if gen is not None:
        gen_dense, gen_updates = gen.dense_macs, gen.membrane_updates
        gen_effective = gen.effective_macs + gen.synaptic_ops
        lines.append(f"  - step-by-step spiking prior: NeuroBench also counts the passes that "
                     f"generate the latent: +{gen_dense:.1f} dense, +{gen_effective:.1f} "
                     f"effective, up to +{gen_updates:.1f} membrane updates")
        prior_extra += gen_dense
    if _close(ours["nb_dense"] + prior_extra, nb_dense):
        lines.append("  = dense: agrees on NeuroBench's layer types (after the notes above)")
    else:
        explained = False
        lines.append(f"  UNEXPLAINED dense: ours on NeuroBench's layer types "
                     f"{ours['nb_dense'] + prior_extra:.1f} vs {nb_dense:.1f}")
    if prior_extra and gen is None:
        lines.append("  = effective: not compared (the prior's passes see a growing number of "
                     "non-zero bits, which one incremental pass does not)")
    elif _close(ours["nb_effective"] + gen_effective, nb_eff):
        lines.append("  = effective MACs + accumulates: agree")
    elif nb_eff < ours["nb_effective"] + gen_effective:
        lines.append(f"  - effective: NeuroBench {ours['nb_effective'] + gen_effective - nb_eff:.1f} "
                     f"lower: "
                     f"connections with a weight of exactly 0, which NeuroBench skips")
    else:
        explained = False
        lines.append(f"  UNEXPLAINED effective: ours {ours['nb_effective']:.1f} vs {nb_eff:.1f}")
    updates = ours["membrane_updates"] + gen_updates
    if _close(updates, nb_mem):
        lines.append("  = membrane updates: agree")
    elif nb_mem < updates:
        lines.append(f"  - membrane updates: NeuroBench counts only membranes that changed after "
                     f"the first step (or none without snntorch's .mem): "
                     f"{updates - nb_mem:.1f} fewer")
    elif nb_mem > updates:
        explained = False
        lines.append(f"  UNEXPLAINED membrane updates: NeuroBench counts more "
                     f"({nb_mem:.1f} > {updates:.1f})")
    return lines, explained


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="quick")
    parser.add_argument("--n", type=int, default=64, help="samples per row (default 64)")
    parser.add_argument("--dataset", default="mnist",
                        help="data set whose saved models --results-dir holds (default mnist)")
    parser.add_argument("--results-dir", type=Path, default=None,
                        help="a run's results folder: count its saved models (seed 0) instead "
                             "of untrained ones")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error(f"--n must be >= 1, got {args.n}")
    try:
        import neurobench  # noqa: F401
    except ImportError:
        print("NeuroBench is not installed here: pip install --no-deps neurobench (it needs "
              "torch and snntorch, already here)", file=sys.stderr)
        return 2
    suite = load_suite(args.suite)
    all_explained = True
    for entry in suite.entries:
        backend = adapters.backend_of(entry.adapter)
        if backend in ("conversion", "stdp"):
            print(f"{entry.label}: skipped ({backend}: its network is not a PyTorch module "
                  f"NeuroBench can hook)\n")
            continue
        path = None
        if args.results_dir is not None:
            path = rec.model_path(args.results_dir, suite.name,
                                  f"{entry.label}__{args.dataset}__seed0")
        lines, explained = check_row(entry.label, entry.adapter, dict(entry.config), args.n, path)
        all_explained &= explained
        print("\n".join(lines) + "\n")
    print("every difference explained" if all_explained else "some differences UNEXPLAINED")
    return 0 if all_explained else 1


if __name__ == "__main__":
    sys.exit(main())
