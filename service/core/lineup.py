"""The four models a deployment answers with: two kinds, each as its *original* and its *online* twin.

The original is trained offline (``scripts/train.py``); its online twin starts from it and learns from
people. Names are ``<kind>_<flavour>``, spelled here once.

>>> MODEL_ORDER
('fnn_original', 'fnn_online', 'cnn_original', 'cnn_online')
>>> online("cnn"), original("cnn"), kind_of("cnn_online")
('cnn_online', 'cnn_original', 'cnn')
"""

from __future__ import annotations

KINDS = ("fnn", "cnn")
FLAVOURS = ("original", "online")


def original(kind: str) -> str:
    return f"{kind}_original"


def online(kind: str) -> str:
    return f"{kind}_online"


def kind_of(name: str) -> str:
    """The kind of a model name of the lineup (ValueError for any other name)."""
    for kind in KINDS:
        if name in (original(kind), online(kind)):
            return kind
    raise ValueError(f"no model {name!r}; the models are {', '.join(MODEL_ORDER)}")


MODEL_ORDER = tuple(name(kind) for kind in KINDS for name in (original, online))
ONLINE_MODELS = tuple(online(kind) for kind in KINDS)
