"""A writer's own memory: one prototype a digit, in the original CNN's embedding space.

A person's drawings of a digit sit close together in the space of the
original CNN's last hidden layer (its 128 ReLU units, L2-normalised), even
where the network's answer for them is wrong. So a writer's memory keeps
the embedding of each drawing they labelled, and the prototype of a digit
is the mean of their embeddings of it (a prototypical network's classifier,
on a feature extractor that never changes: memories never need recomputing
while the online models move).

The memory speaks as one more expert in the ensemble's product
(:func:`models.ensemble.combine`): its log-evidence for digit ``c`` is
``-SHARPNESS * trust * d_c``, ``d_c`` the cosine distance to the writer's
prototype of ``c``, or :data:`ABSENT` for a digit they never taught.

Measured by ``scripts/choose_memory.py`` on the 14 pendigits test writers
(their first k drawings of each digit taught, the other 2,798 held out; the
original CNN makes 43 errors on them):

* alone, prototypes make [18, 11, 13] errors at k = 1, 3, 5, the nearest
  single drawing (Teachable Machine's kNN) [18, 16, 14]; beside the four models
  (every digit taught) [14, 11, 10] against [14, 17, 11], and a prototype is one
  vector a digit;
* adding each drawing's 24 augmented variants (the learner's) does not pay
  ([23, 10, 13] alone), so the memory keeps the drawing alone: 200 drawings are
  51 KB of float16 (77 KB stored), and a web worker needs no augmentation code;
* ``ABSENT`` matters only for digits a writer never taught: with just 2 digits
  taught, 0.3 cut the four models' 46 errors to 38-40, and no writer got more
  than one more error (0.2: 43-46; 0.6: 82-86).

How loudly the memory speaks depends on whether it knows the whole alphabet
(:class:`Sharpness`). While some digit has no prototype, its distance is
ABSENT's guess, and a loud memory pulls every drawing towards the few digits
it knows: with 2, 5, 8 or 9 digits taught, 40 keeps every writer within 2
errors of the four models, 60 or 70 costs one writer up to 7 or 9 more. Once
every digit has a prototype, every distance is measured: in the crowd of
``scripts/learn_from_users.py`` (three orders, the service's own learned
weights and memories, paired) 70 makes 10 / 10 / 9 errors at k = 5 against
40's 11 / 12 / 11 (k = 3: 10 / 8 / 9 against 12 / 12 / 12), no writer worse.
Leave-one-writer-out cross-validation chooses 70 or 80 for 13 of the 14
writers in every order; 70 is the quieter of the two, which a careless
writer whose random labels cover every digit needs.

Trust is earned: before a drawing joins the memory, the memory (if it knew
that digit) guesses it; ``trust`` rises with those guesses' accuracy and
falls to 0 at a coin's worth (:meth:`PrototypeMemory.trust`). A careful writer
keeps full trust (the same errors with and without it); for a careless one,
half of whose labels are random, it cut the errors on their true labels at
k = 5 from 121 to 46, the four models' own 46.

>>> rng = np.random.default_rng(0)
>>> ones, sevens = rng.normal(0, 0.05, (3, 8)) + np.eye(8)[0], rng.normal(0, 0.05, (3, 8)) + np.eye(8)[1]
>>> memory = PrototypeMemory.from_entries(np.concatenate([ones, sevens]), [1, 1, 1, 7, 7, 7], n_classes=10)
>>> len(memory), memory.counts()
(6, [0, 3, 0, 0, 0, 0, 0, 3, 0, 0])
>>> int(memory.distances(normalise(np.eye(8)[1]))[[1, 7]].argmin())  # nearer the 7s' prototype
1
>>> memory.guess(normalise(np.eye(8)[0])), PrototypeMemory.empty(10).guess(np.eye(8)[0])
(1, None)
"""

from __future__ import annotations

from dataclasses import dataclass, replace  # noqa: F401 (doctests)

import numpy as np

EMBEDDING_SIZE = 128
# Nats of evidence per unit of cosine distance, at full trust, while some digit has no prototype (and
# ABSENT stands in for its distance). A drawing 0.05 nearer the writer's prototype of one digit than of
# another moves the odds between them by e^2.
SHARPNESS = 40.0
# ... and once every digit has one: e^3.5 for the same 0.05.
COMPLETE_SHARPNESS = 70.0
# The distance a digit the writer never taught counts as: twice as far as nearly all of a writer's drawings
# are from their own prototype (median 0.03, 95th percentile 0.14 on the pendigits test writers), so
# a taught digit gains only when a drawing really looks like the writer's own, and loses otherwise.
ABSENT = 0.3
# Before it has been tested, the memory is trusted as if it had guessed this many drawings right:
# prototypes from one drawing a digit already cut the originals' errors by two thirds on unseen writers.
PRIOR_HITS = 4


def normalise(e: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (all-zero rows stay zero)."""
    e = np.asarray(e, dtype=np.float32)
    norm = np.linalg.norm(e, axis=-1, keepdims=True)
    return e / np.maximum(norm, 1e-6)


@dataclass(frozen=True)
class Sharpness:
    """How loudly a memory speaks: nats per unit of cosine distance at full trust, ``partial`` while
    some class has no prototype, ``complete`` once every class has one (measured on digits, above).

    >>> taught_all, taught_one = PrototypeMemory.empty(2), PrototypeMemory.empty(2)
    >>> taught_all = replace(taught_all, counts_=np.array([3, 1]))
    >>> taught_one = replace(taught_one, counts_=np.array([4, 0]))
    >>> Sharpness(SHARPNESS, COMPLETE_SHARPNESS).of(taught_all), Sharpness(SHARPNESS, COMPLETE_SHARPNESS).of(taught_one)
    (70.0, 40.0)
    """

    partial: float
    complete: float

    def of(self, memory: "PrototypeMemory") -> float:
        return self.complete if memory.complete else self.partial


@dataclass(frozen=True)
class PrototypeMemory:
    """What answering needs of one writer's memory: prototypes, how many drawings made them, and trust."""

    prototypes: np.ndarray  # float32[classes, E], unit rows; zero rows for classes never taught
    counts_: np.ndarray  # int[classes]
    hits: int = 0
    judged: int = 0

    @classmethod
    def empty(cls, n_classes: int, size: int = EMBEDDING_SIZE) -> "PrototypeMemory":
        return cls(np.zeros((n_classes, size), np.float32), np.zeros(n_classes, np.int64))

    @classmethod
    def from_entries(cls, embeddings: np.ndarray, labels, n_classes: int, guesses=None) -> "PrototypeMemory":
        """The memory of drawings with these embeddings and labels (oldest first), of ``n_classes`` classes.

        ``guesses[i]`` is what the memory guessed for drawing ``i`` before it
        joined (None when the memory did not know that class yet).
        """
        embeddings, labels = normalise(embeddings).reshape(len(labels), -1), np.asarray(labels, np.int64)
        sums = np.zeros((n_classes, embeddings.shape[1]), np.float32)
        np.add.at(sums, labels, embeddings)
        judged = [(g, y) for g, y in zip(guesses or (), labels) if g is not None]
        return cls(normalise(sums), np.bincount(labels, minlength=n_classes),
                   sum(int(g == y) for g, y in judged), len(judged))

    def __len__(self) -> int:
        return int(self.counts_.sum())

    def counts(self) -> list[int]:
        return [int(c) for c in self.counts_]

    def distances(self, embedding: np.ndarray) -> np.ndarray:
        """float32[classes]: cosine distance from a unit ``embedding`` to each prototype (ABSENT where none)."""
        d = 1.0 - self.prototypes @ embedding
        return np.where(self.counts_ > 0, d, ABSENT).astype(np.float32)

    def guess(self, embedding: np.ndarray) -> int | None:
        """The digit whose prototype is nearest, among those taught; None for an empty memory."""
        if not len(self):
            return None
        d = np.where(self.counts_ > 0, 1.0 - self.prototypes @ embedding, np.inf)
        return int(d.argmin())

    @property
    def complete(self) -> bool:
        """Every class has a prototype."""
        return bool((self.counts_ > 0).all())

    @property
    def trust(self) -> float:
        """0..1: how far the memory's own guesses beat a coin, on the writer's drawings it was tested on.

        >>> fresh = PrototypeMemory.empty(10)
        >>> fresh.trust, replace(fresh, hits=8, judged=12).trust, replace(fresh, hits=0, judged=4).trust
        (1.0, 0.5, 0.0)
        """
        accuracy = (self.hits + PRIOR_HITS) / (self.judged + PRIOR_HITS)
        return max(0.0, 2.0 * accuracy - 1.0)

    def evidence(self, embedding: np.ndarray, sharpness: Sharpness) -> np.ndarray:
        """float32[classes]: log-evidence for each class, zero for an empty memory (which then changes nothing).

        ``sharpness``: the alphabet's (:attr:`models.alphabets.Alphabet.memory_sharpness`).
        """
        if not len(self):
            return np.zeros(len(self.counts_), np.float32)
        return (-sharpness.of(self) * self.trust) * self.distances(embedding)
