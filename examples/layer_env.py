"""Let this Python environment import the packages of another one, after its own.

``tox -e example-plugin`` installs the example plugin and its SNN library (norse) into a small
environment of its own, layered on the main one (``.tox/main``: torch, the suite, pytest), so
the plugin sits next to the suite without a second copy of torch and without changing the main
environment. Usage: ``python examples/layer_env.py .tox/main``.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python examples/layer_env.py ENV_DIR (e.g. .tox/main)", file=sys.stderr)
        return 2
    env = Path(argv[0])
    python = next((p for p in (env / "bin" / "python", env / "Scripts" / "python.exe")
                   if p.is_file()), None)
    if python is None:
        print(f"no environment at {env}: create it first (tox -e tests)", file=sys.stderr)
        return 1
    site = subprocess.run([str(python), "-c", "import sysconfig; "
                           "print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    ours = Path(sysconfig.get_paths()["purelib"])
    # addsitedir also runs that folder's .pth files (the suite's editable install is one)
    (ours / "zz_layered_env.pth").write_text(f"import site; site.addsitedir({site!r})\n")
    print(f"{ours} now imports from {site} after its own packages")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
