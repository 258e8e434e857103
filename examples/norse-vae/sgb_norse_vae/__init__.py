"""A SpikeGenBench plugin: a spiking VAE on norse (the adapter ``norse-vae``)."""

from sgb_norse_vae.adapter import NorseVAE

__all__ = ["NorseVAE"]
