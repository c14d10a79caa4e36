# sap_btp offline bootstrap: stands in for ansible-test's downloaded get-pip.py.
# It bootstraps pip from the interpreter's bundled wheel (ensurepip), then installs the requested
# packages from the configured package index. If the exact pip pin cannot be installed (no index
# reachable), the bundled pip is kept, which every ansible-test sanity environment accepts.
"""Offline-capable replacement for get-pip.py."""

import subprocess
import sys


def main():
    args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
    options = [arg for arg in args if arg.startswith("-")]
    packages = [arg for arg in args if not arg.startswith("-")]
    if not packages:
        return 0
    command = [sys.executable, "-m", "pip", "install", "--quiet"] + options + packages
    if subprocess.call(command) == 0:
        return 0
    remaining = [pkg for pkg in packages if not pkg.lower().startswith("pip")]
    if remaining:
        return subprocess.call([sys.executable, "-m", "pip", "install", "--quiet"] + options + remaining)
    return 0


if __name__ == "__main__":
    sys.exit(main())
