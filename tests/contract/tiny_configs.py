"""Per adapter: a config that trains in about a second on 64 tiny images (contract test only).

Every registered adapter must have an entry; ``test_every_adapter_has_a_tiny_config`` checks it.
"""

from __future__ import annotations

TINY_CONFIGS: dict[str, dict] = {
    "ann-vae": {"epochs": 1, "hidden": 32, "latent": 8, "batch_size": 32},
    "ann-vae-gaussian": {"epochs": 1, "hidden": 32, "latent": 8, "batch_size": 32},
    "ann-vae-learned-prior": {"epochs": 1, "hidden": 32, "latent": 8, "batch_size": 32,
                              "prior_hidden": 16},
    "ann-gan": {"epochs": 1, "hidden": 32, "noise_dim": 8, "batch_size": 32},
    "surrogate-vae": {"epochs": 1, "hidden": [32], "latent": 8, "batch_size": 32, "timesteps": 4},
    "surrogate-gan": {"epochs": 1, "hidden": [32], "noise_dim": 8, "batch_size": 32,
                      "timesteps": 4},
    "conversion-vae": {"epochs": 1, "hidden": 32, "latent": 8, "batch_size": 32, "timesteps": 10,
                       "sim_batch_size": 16, "norm_samples": 64, "sweep_samples": 16},
    "conversion-gan": {"epochs": 1, "hidden": 32, "noise_dim": 8, "batch_size": 32, "timesteps": 10,
                       "sim_batch_size": 16, "norm_samples": 64, "sweep_samples": 16},
    "stdp-ae": {"timesteps": 5, "channels": [4], "kernels": [3], "thresholds": [3.0], "pools": [4],
                "wta_k": [2], "wta_radius": [1], "stdp_images": [32], "stdp_batch": 8,
                "n_encode": 64, "n_components": 3, "em_iters": 5},
    "ann-ddpm": {"epochs": 1, "channels": [2, 3], "diffusion_steps": 20, "sampler_steps": 2,
                 "batch_size": 32},
    # 8 channels: with fewer, an untrained denoiser's output layer may get no spike from its
    # input, and every seed would give the same images
    "surrogate-ddpm": {"epochs": 1, "channels": [8, 8], "diffusion_steps": 20,
                       "sampler_steps": 2, "batch_size": 32, "timesteps": 2},
}
