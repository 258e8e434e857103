"""The ANN VAE's learned autoregressive prior (MADE): causality, sampling, hand-counted MACs."""

from __future__ import annotations

import math

import pytest
import torch

from adapters.ann import AnnVAE, AnnVAELearnedPrior, AutoregressivePrior
from adapters.coding import make_generator

TINY = {"epochs": 1, "hidden": 16, "latent": 5, "batch_size": 16, "prior_hidden": 8}
TINY_FIXED = {k: v for k, v in TINY.items() if k != "prior_hidden"}


def test_logit_j_depends_on_earlier_bits_only():
    prior = AutoregressivePrior(5, 8)
    torch.nn.init.normal_(prior.out.bias)
    z = (torch.rand(64, 5, generator=make_generator(0)) < 0.5).float()
    base = prior(z)
    for j in range(5):
        flipped = z.clone()
        flipped[:, j:] = 1 - flipped[:, j:]
        assert torch.equal(prior(flipped)[:, :j + 1], base[:, :j + 1])  # logits 0..j see z_<j
    assert not torch.equal(prior(1 - z)[:, 1:], base[:, 1:])


def test_masks_and_macs_by_hand():
    # latent 3, hidden 4: hidden degrees 1, 2, 1, 2. Hidden unit k sees bits 1..m_k: 1+2+1+2 = 6
    # connections; output j sees hidden units with m_k < j: 0 (j=1) + 2 (j=2) + 4 (j=3) = 6.
    prior = AutoregressivePrior(3, 4)
    assert prior.hidden.mask.tolist() == [[1, 0, 0], [1, 1, 0], [1, 0, 0], [1, 1, 0]]
    assert prior.out.mask.tolist() == [[0, 0, 0, 0], [1, 0, 1, 0], [1, 1, 1, 1]]
    assert prior.macs() == 12


def test_sample_is_a_bit_by_bit_draw():
    prior = AutoregressivePrior(5, 8)
    torch.nn.init.normal_(prior.out.bias)
    z = prior.sample(200, generator=make_generator(2))
    uniform = torch.rand((200, 5), generator=make_generator(2))
    assert torch.equal(z, (uniform < torch.sigmoid(prior(z))).float())
    assert torch.equal(z, prior.sample(200, generator=make_generator(2)))


def test_kl_equals_the_fixed_prior_kl_when_the_prior_is_constant():
    learned, fixed = AnnVAELearnedPrior(TINY), AnnVAE({**TINY_FIXED, "prior_p": 0.2})
    with torch.no_grad():
        learned.prior.out.weight.zero_()
        learned.prior.out.bias.fill_(math.log(0.2 / 0.8))
    logits = torch.randn(7, 5, generator=make_generator(1))
    z = (logits > 0).float()
    q = torch.sigmoid(logits)
    expected = (q * (q / 0.2).log() + (1 - q) * ((1 - q) / 0.8).log()).sum(dim=1)
    assert torch.allclose(learned._kl(logits, z), expected, atol=1e-5)
    assert torch.allclose(fixed._kl(logits, z), expected, atol=1e-5)


def test_training_learns_the_prior_and_sample_counts_its_macs():
    x = torch.rand(64, 1, 28, 28, generator=make_generator(0))
    model = AnnVAELearnedPrior(TINY)
    before = model.prior.out.bias.clone()
    model.fit(x, seed=0)
    assert not torch.equal(model.prior.out.bias, before)
    out = model.sample(4, seed=3)
    assert out.shape == (4, 1, 28, 28) and torch.equal(model.sample(4, seed=3), out)
    decoder_macs = 5 * 16 + 16 * 16 + 16 * 784
    assert model.op_counts().macs == pytest.approx(decoder_macs + model.prior.macs())


def test_prior_hidden_is_validated():
    with pytest.raises(ValueError, match="AnnVAELearnedPrior.Config.prior_hidden must be an int >= 1, got 0"):
        AnnVAELearnedPrior.Config(prior_hidden=0)
