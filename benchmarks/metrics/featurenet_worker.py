"""Train one feature network in this process, under the portable kernels its parent set.

Started by :func:`benchmarks.metrics.features.train_feature_net`, never by hand::

    python -m benchmarks.metrics.featurenet_worker REQUEST.pt OUT.pt

``REQUEST.pt`` holds ``kind`` (``"classifier"``, the default, or ``"autoencoder"``),
``dataset``, ``epochs``, ``seed``, ``progress`` and the four tensors ``train_images``,
``train_labels``, ``test_images``, ``test_labels``; ``OUT.pt`` receives ``state_dict``,
``seconds`` and ``test_accuracy`` (classifier) or ``quality`` (autoencoder: ``recon_mse``,
``probe_accuracy``). The environment variables
of :data:`benchmarks.metrics.features.PORTABLE_ENV` must be set before this process starts (the
kernels are chosen when torch and MKL load); the worker refuses to train when they are not.
"""

from __future__ import annotations

import os
import sys
from types import SimpleNamespace

import torch


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m benchmarks.metrics.featurenet_worker REQUEST.pt OUT.pt",
              file=sys.stderr)
        return 2
    from adapters.io import atomic_torch_save, load_weights
    from benchmarks.metrics import features

    wrong = {k: os.environ.get(k) for k, v in features.PORTABLE_ENV.items()
             if os.environ.get(k) != v}
    if wrong:
        print(f"featurenet_worker: portable kernels not set up: {wrong}, need "
              f"{features.PORTABLE_ENV}", file=sys.stderr)
        return 2
    if torch.backends.cpu.get_cpu_capability() != "DEFAULT":  # the variable was read too late
        print(f"featurenet_worker: ATen kernels are {torch.backends.cpu.get_cpu_capability()}, "
              f"need DEFAULT", file=sys.stderr)
        return 2
    torch.backends.mkldnn.enabled = False  # oneDNN picks its kernels by CPU, MKL_CBWR does not bind it
    request = load_weights(argv[0])
    train = SimpleNamespace(images=request["train_images"], labels=request["train_labels"])
    test = SimpleNamespace(images=request["test_images"], labels=request["test_labels"])
    options = {"epochs": request["epochs"], "seed": request["seed"],
               "progress": request["progress"]}
    kind = request.get("kind", "classifier")
    if kind == "classifier":
        net, acc, seconds = features.train_here(request["dataset"], train, test, **options)
        out = {"test_accuracy": acc}
    elif kind == "autoencoder":
        from benchmarks.metrics import aefeatures

        net, quality, seconds = aefeatures.train_here(request["dataset"], train, test, **options)
        out = {"quality": quality}
    else:
        print(f"featurenet_worker: unknown kind {kind!r}; allowed: classifier, autoencoder",
              file=sys.stderr)
        return 2
    atomic_torch_save({"state_dict": net.state_dict(), "seconds": seconds, **out}, argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
