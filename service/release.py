"""``python -m service.release``: check a deployment before it serves (Heroku's release phase runs it).

One line a check, then exit 0; or exit 1 at the first that fails, saying what to do:

- the settings, as every process of the deployment reads them;
- the store: a probe object written, read back and deleted (S3: the bucket, the credentials, the endpoint);
- the shipped weights: each original model loads as a web worker serves it and reads the alphabet's holdout;
- the online models: each one's newest published version (if any) is readable and loads.

It needs no TensorFlow (it runs in the web image too) and changes nothing but its probe.
"""

from __future__ import annotations

import secrets
import sys
import time

import numpy as np

from models import load_original
from models.alphabets import load_alphabet
from models.base import accuracy

from .core.lineup import KINDS, online
from .core.parts import make_stores
from .core.settings import load_settings
from .core.storage import StorageError

PROBE_FOLDER = "release-checks"
MIN_HOLDOUT_ACCURACY = 0.5  # far below any shipped model's: this catches weights that are not the alphabet's


class CheckFailed(Exception):
    pass


def check(say=print) -> None:
    settings = load_settings()  # a configuration slip ends the process here, with its one line
    where = f"s3://{settings.s3_bucket}/{settings.s3_prefix}" if settings.storage == "s3" else str(settings.data_dir)
    say(f"settings: alphabet {settings.alphabet}, role {settings.role}, store {where}")

    alphabet = load_alphabet(settings.alphabet)
    _, weights = make_stores(settings)
    probe, data = f"{PROBE_FOLDER}/{secrets.token_hex(8)}", secrets.token_bytes(32)
    started = time.monotonic()
    try:
        weights.objects.put(probe, data)
        read_back = weights.objects.get(probe)
        weights.objects.delete([probe])
    except StorageError as exc:
        raise CheckFailed(f"the store at {where} cannot be written and read: {exc}") from None
    if read_back != data:
        raise CheckFailed(f"the store at {where} gave back other bytes than were written")
    say(f"store: wrote, read and deleted a probe in {(time.monotonic() - started) * 1000:.0f} ms")

    holdout_x, holdout_y = alphabet.load_sample().holdout
    originals = {}
    for kind in KINDS:
        originals[kind] = model = load_original(kind, alphabet, serving=True)
        score = accuracy(model, holdout_x, holdout_y)
        if score < MIN_HOLDOUT_ACCURACY:
            raise CheckFailed(f"the shipped {kind} reads {score:.1%} of the {alphabet.name} holdout: its weights "
                              "are not this alphabet's")
        say(f"weights: {kind} original, {score:.2%} of the {alphabet.name} holdout")

    for kind in KINDS:
        name = online(kind)
        try:
            record = weights.current(name)
            if record is None:
                say(f"weights: {name} has no published version yet (it starts from the original)")
                continue
            model = type(originals[kind]).from_bytes(weights.load(name, record.version))
            model.predict_proba(np.zeros((1, 28, 28), np.float32))
        except Exception as exc:  # unreadable, corrupt, or not this network's weights
            raise CheckFailed(f"{name}'s newest version cannot be loaded: {exc!r}; an admin can roll it back "
                              f"(POST /api/models/{name}/rollback)") from None
        say(f"weights: {name} v{record.version} ({record.steps} steps) loads")


def main() -> None:
    try:
        check()
    except CheckFailed as exc:
        print(f"release check failed: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    print("release check passed")


if __name__ == "__main__":
    main()
