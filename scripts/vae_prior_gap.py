"""Where a VAE's sample FID is lost: the decoder, or the prior it samples from.

Trains ``surrogate-vae`` on a data set's full train split and prints, as JSON on stdout, FID
against the test split (10,000 images, the suite's feature network) of three sets of images:

* ``sample``: decoded from the prior (what the suite scores);
* ``reconstruct_train``: 10,000 train images encoded and decoded, i.e. the decoder fed posterior
  spike trains (what a prior matching the aggregate posterior could reach);
* ``shuffled_posterior``: decoded from the posterior's per-unit rates shuffled across those
  images (right marginals, no correlations between units).

A gap between ``sample`` and ``reconstruct_train`` is the prior's. Measured on MNIST seed 0
(6 epochs, fixed prior, MMD, kl_weight 3): 67.7 / 25.9 / 49.3; learned prior: 36.4 / 27.3.

    OMP_NUM_THREADS=1 python scripts/vae_prior_gap.py --dataset mnist --epochs 6 \\
        --config '{"prior": "fixed", "latent_loss": "mmd", "kl_weight": 3.0}'
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from adapters.coding import encode, make_generator
from adapters.spiking import bernoulli_spikes
from adapters.surrogate_vae import SurrogateVAE
from benchmarks.data import load
from benchmarks.metrics.features import classes_covered, get_feature_net
from benchmarks.metrics.fidelity import fid

_N = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist", choices=["mnist", "fashion-mnist"])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", default="{}", help="more SurrogateVAE.Config fields, JSON")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    train, test = load(args.dataset, "train"), load(args.dataset, "test")
    net, _info = get_feature_net(args.dataset)
    model = SurrogateVAE({"epochs": args.epochs, **json.loads(args.config)})
    t0 = time.perf_counter()
    model.fit(train.images, seed=args.seed)
    out: dict[str, float] = {"train_seconds": time.perf_counter() - t0, "threads": args.threads}

    samples = model.sample(_N, seed=args.seed + 1)
    out["sample"] = fid(samples, test.images, feature_net=net)
    out["sample_classes"] = classes_covered(samples, net)
    x = train.images[:_N]
    out["reconstruct_train"] = fid(model.reconstruct(x), test.images, feature_net=net)

    c, gen = model.config, make_generator(args.seed + 5)
    with torch.no_grad():  # the rate posterior's rates, one row per image
        rates = torch.cat([model.encoder(encode(chunk, c.timesteps, c.coding, generator=gen)).mean(0)
                           for chunk in x.split(500)])
        shuffled = torch.stack([rates[torch.randperm(len(rates), generator=gen), j]
                                for j in range(rates.shape[1])], dim=1)
        z = bernoulli_spikes(shuffled.expand(c.timesteps, -1, -1).contiguous(), generator=gen)
        images = model._decode_counted(model.decoder, "latent", z)
    out["shuffled_posterior"] = fid(images, test.images, feature_net=net)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
