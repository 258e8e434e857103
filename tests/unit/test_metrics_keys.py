"""The metric declarations: one table that the tables, figures and check all read."""

from __future__ import annotations

import dataclasses

import pytest

from benchmarks.metrics import keys as K


def test_keys_and_order_are_stable():
    assert list(K.METRICS)[:5] == [K.FID, K.KID, K.KID_STD, K.PRECISION, K.RECALL]
    assert all(key == spec.key for key, spec in K.METRICS.items())
    assert K.spec(K.FID) is K.METRICS[K.FID]
    with pytest.raises(ValueError, match="unknown metric 'fdi'.*known metrics"):
        K.spec("fdi")


def test_table_columns_are_the_declared_ones_in_their_order():
    assert [m.key for m in K.table_columns()] == [
        K.FID, K.FID_AE, K.KID, K.PRECISION, K.RECALL, K.RECON_MSE, K.SPIKES, K.SYNAPTIC_OPS,
        K.MACS, K.ENERGY_NJ, K.ENERGY_RATIO, K.TIMESTEPS, K.DENOISER_CALLS, K.TRAIN_SECONDS,
        K.CLASSES_AT_5PCT, K.TOP_CLASS_SHARE]
    # a table-time energy model brings its energy, ratio and (diffusion rows only) energy per call
    assert [m.key for m in K.table_columns(("fp32-compute",))][9:12] == [
        K.energy_key("fp32-compute"), K.ratio_key("fp32-compute"),
        K.call_energy_key("fp32-compute")]
    assert K.spec(K.DENOISER_CALLS).families == frozenset({"diffusion"})
    counts = [m.key for m in K.table_columns() if not m.bold_best]
    assert counts == [K.SPIKES, K.SYNAPTIC_OPS, K.MACS]  # operation kinds are not ranked
    assert not K.spec(K.TIMESTEPS).show_std


def test_checked_metrics_are_those_with_a_floor():
    assert K.checked() == tuple(k for k, m in K.METRICS.items() if m.floor is not None)
    assert K.TRAIN_SECONDS not in K.checked() and K.spec(K.TRAIN_SECONDS).higher_is_better is False
    assert all(K.spec(k).higher_is_better is not None for k in K.checked())


def test_families():
    assert K.spec(K.RECON_MSE).applies_to("vae") and K.spec(K.RECON_MSE).applies_to("autoencoder")
    assert not K.spec(K.RECON_MSE).applies_to("gan")
    assert K.spec(K.FID).applies_to("gan")
    assert K.spec(K.RECON_MSE).applies_to("ddpm")  # a family nobody declared yet: no claim
    assert K.RECON_BCE not in K.applicable("gan") and K.RECON_BCE in K.applicable("vae")


@pytest.mark.parametrize(("fmt", "value", "text"), [
    (".2f", 12.0, "12.00"), ("si", 950.0, "950"), ("si", 12_345.0, "12.3k"),
    ("si", 4_561_000.0, "4.56M"), ("si", 1.2e9, "1.20G"), ("sig", 0.07384, "0.0738"),
    ("sig", 1479.36, "1479"), ("sig", 0.0, "0"), (".0f", 69.6, "70"),
])
def test_display_formats(fmt, value, text):
    assert K.format_value(value, fmt) == text


def test_contradictory_declarations_are_refused(monkeypatch):
    bad, kid_std = dict(K.METRICS), K.METRICS[K.KID_STD]
    bad[K.KID_STD] = dataclasses.replace(kid_std, floor=K.Floor(0.1, 0.1))
    monkeypatch.setattr(K, "METRICS", bad)
    with pytest.raises(ValueError, match="'kid_std' has a check floor but no better direction"):
        K._validate()
    bad[K.KID_STD] = dataclasses.replace(kid_std, column=0)
    with pytest.raises(ValueError, match="numbered 0..16 once each"):
        K._validate()
    bad[K.KID_STD] = dataclasses.replace(kid_std, families=frozenset({"vea"}))
    with pytest.raises(ValueError, match=r"unknown families \['vea'\]"):
        K._validate()
