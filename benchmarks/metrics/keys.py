"""Metric names, each with its better direction, unit and display label.

Every record's ``metrics`` mapping uses these keys; tables read the direction from here, so nobody
writes "lower is better" twice.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricSpec:
    key: str
    higher_is_better: bool | None  # None: no better direction (context, e.g. T)
    label: str
    unit: str = ""
    description: str = ""


FID = "fid"
KID = "kid"
KID_STD = "kid_std"
PRECISION = "precision"
RECALL = "recall"
FID_INCEPTION = "fid_inception"
FID_ANN_BOUND = "fid_ann_bound"
FID_DATA_FLOOR = "fid_data_floor"
FID_NOISE_CEILING = "fid_noise_ceiling"
CLASSES_COVERED = "classes_covered"
RECON_MSE = "recon_mse"
RECON_BCE = "recon_bce"
RECON_SYNAPTIC_OPS = "recon_synaptic_ops_per_sample"
RECON_MACS = "recon_macs_per_sample"
TIMESTEPS = "timesteps"
SPIKES = "spikes_per_sample"
FIRING_RATE = "firing_rate"
SYNAPTIC_OPS = "synaptic_ops_per_sample"
MACS = "macs_per_sample"
NEURON_UPDATES = "neuron_updates_per_sample"
ENERGY_NJ = "energy_nj_per_sample"
ENERGY_RATIO = "energy_ratio_vs_ann"
TRAIN_SECONDS = "train_seconds"
SAMPLE_THROUGHPUT = "samples_per_second"
PEAK_MEMORY_MB = "peak_memory_mb"
FEATURE_NET_ACCURACY = "feature_net_test_accuracy"

METRICS: dict[str, MetricSpec] = {
    m.key: m
    for m in (
        MetricSpec(FID, False, "FID", "", "Fréchet distance of generated vs test features"),
        MetricSpec(KID, False, "KID", "", "kernel inception distance (mean over subsets)"),
        MetricSpec(KID_STD, None, "KID std", "", "std of KID over subsets"),
        MetricSpec(PRECISION, True, "Precision", "", "improved precision (k-NN manifold)"),
        MetricSpec(RECALL, True, "Recall", "", "improved recall (k-NN manifold)"),
        MetricSpec(FID_INCEPTION, False, "FID (Inception)", "", "FID with InceptionV3 features"),
        MetricSpec(FID_ANN_BOUND, False, "FID (ANN bound)", "",
                   "FID of the converted network's own ANN on the same noise"),
        MetricSpec(FID_DATA_FLOOR, None, "FID floor", "", "FID of real train vs test images"),
        MetricSpec(FID_NOISE_CEILING, None, "FID ceiling", "", "FID of Bernoulli noise vs test"),
        MetricSpec(CLASSES_COVERED, True, "Classes", "", "classes among samples (feature net)"),
        MetricSpec(RECON_MSE, False, "Recon. MSE", "", "per-pixel MSE on the test split"),
        MetricSpec(RECON_BCE, False, "Recon. BCE", "", "per-pixel BCE on the test split"),
        MetricSpec(RECON_SYNAPTIC_OPS, False, "Recon. SynOps", "", "accumulates per reconstruction"),
        MetricSpec(RECON_MACS, False, "Recon. MACs", "", "MACs per reconstruction"),
        MetricSpec(TIMESTEPS, None, "T", "", "simulation time steps"),
        MetricSpec(SPIKES, False, "Spikes/sample", "", "spikes per generated sample"),
        MetricSpec(FIRING_RATE, None, "Firing rate", "", "spikes per neuron update"),
        MetricSpec(SYNAPTIC_OPS, False, "SynOps/sample", "", "accumulates caused by spikes"),
        MetricSpec(MACS, False, "MACs/sample", "", "dense multiply-accumulates"),
        MetricSpec(NEURON_UPDATES, None, "Neuron upd./sample", "", "spiking neuron updates"),
        MetricSpec(ENERGY_NJ, False, "Energy/sample", "nJ", "energy model estimate"),
        MetricSpec(ENERGY_RATIO, False, "Energy vs ANN", "×", "ratio to the ANN baseline"),
        MetricSpec(TRAIN_SECONDS, False, "Train time", "s", "wall time of fit"),
        MetricSpec(SAMPLE_THROUGHPUT, True, "Samples/s", "1/s", "sampling throughput"),
        MetricSpec(PEAK_MEMORY_MB, False, "Peak memory", "MiB", "peak resident memory"),
        MetricSpec(FEATURE_NET_ACCURACY, None, "Feature net acc.", "", "test accuracy"),
    )
}


def spec(key: str) -> MetricSpec:
    """The spec of a metric key; unknown keys raise with the list of known ones."""
    try:
        return METRICS[key]
    except KeyError:
        raise ValueError(f"unknown metric {key!r}; known metrics: {sorted(METRICS)}") from None
