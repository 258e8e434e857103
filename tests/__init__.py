"""SpikeGenBench tests (a package, so ``tests.fakes`` wins over any installed ``tests``)."""
