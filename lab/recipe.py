"""The originals' training recipe, one epoch at a time: resumable, and with weighted extra data.

What holds, whatever stops and starts a run:

- **Epoch e's randomness is drawn from (seed, e) alone**: which images, in what order, how each is distorted,
  and the CNN's dropout. A run resumed from the checkpoint written after epoch e therefore continues exactly
  as the uninterrupted run would have (TensorFlow's op determinism on: the caller enables it).
- **A checkpoint is the whole state**: the weights, the optimizer's state (the FNN's momentum; the CNN's Adam
  moments and step count, which its cosine schedule reads), the epochs done and the seconds they took.
- **A sample weight is how many times an image appears in an epoch**, each time distorted afresh (a whole
  number, so every epoch has the same number of steps and the learning-rate schedule is fixed in advance).
- **The recipe is** ``scripts/train.py``'s: the same architectures, optimizers, learning rates and cosine
  schedules, batch size 128, distortions (:func:`lab.distort.random_distort`) and epochs (FNN 30, CNN 15).
  ``scripts/train.py`` itself still trains as it did when it made the shipped weights (its command in
  ``training.json`` reproduces them); it and this module read the alphabet's base data from here.

>>> import numpy as np
>>> X, y = np.random.default_rng(0).random((40, 28, 28), dtype=np.float32), np.arange(40) % 4
>>> weights = np.where(np.arange(40) < 30, 1, 2)          # the last ten count twice
>>> a = FNNTrainer(n_classes=4, n_samples=int(weights.sum()), epochs=2)
>>> _ = a.train_epoch(X, y, weights)
>>> b = FNNTrainer.from_checkpoint(a.checkpoint())         # a resumed run ...
>>> _ = a.train_epoch(X, y, weights), b.train_epoch(X, y, weights)
>>> a.done, np.array_equal(a.model().W1, b.model().W1)     # ... ends where the uninterrupted one does
(True, True)
"""

from __future__ import annotations

import io
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

DEFAULT_EPOCHS = {"fnn": 30, "cnn": 15}
BATCH_SIZE = 128
DISTORT_CHUNK = 10_000  # images distorted in one TensorFlow call (as scripts/train.py's FNN does)
PEN_REPEAT = 3  # the digits: times the pendigits training writers' drawings appear (scripts/train.py --pen-repeat)
# The hiragana: images a class the guard's replay sample keeps (scripts/train.py writes sample.npz from them).
HIRAGANA_REPLAY_PER_CLASS = 40


# --- the base data of an alphabet -----------------------------------------------------------------

@dataclass(frozen=True)
class BaseData:
    """What an alphabet's originals are trained and judged on, float32[N,28,28] in [0,1] with int64 labels.

    ``holdout``: what the promotion gate scores a retrained original on (``holdout_name`` for people);
    ``evaluations``: every set ``scripts/train.py`` reports in ``training.json``; ``guard_holdout``: the
    hiragana's holdout writers, whose drawings become the service's ``sample.npz`` (None for the digits,
    whose sample comes from MNIST).
    """

    train: tuple[np.ndarray, np.ndarray]
    holdout_name: str
    holdout: tuple[np.ndarray, np.ndarray]
    evaluations: dict[str, tuple[np.ndarray, np.ndarray]]
    guard_holdout: tuple[np.ndarray, np.ndarray] | None = None
    note: dict = field(default_factory=dict)

    def limited(self, n: int, seed: int) -> "BaseData":
        """A copy training on ``n`` of the images (a seeded choice, in their order): quick tries and tests."""
        X, y = self.train
        if not 0 < n < len(X):
            return self
        keep = np.sort(np.random.default_rng([seed, n]).choice(len(X), n, replace=False))
        return BaseData((X[keep], y[keep]), self.holdout_name, self.holdout, self.evaluations, self.guard_holdout,
                        {**self.note, "limited_to": n})


def digits_base(pen_repeat: int = PEN_REPEAT) -> BaseData:
    """MNIST train plus the 30 pendigits training writers (``pen_repeat`` times); judged on MNIST test.

    MNIST is American school handwriting; canvas users (and the pendigits writers) cross their 7s, flag their
    1s and hook their 9s. The 30 pendigits *training* writers, rendered as canvas drawings, teach the originals
    that; the 14 test writers stay unseen for evaluation.
    """
    from .data import load_mnist
    from .drawn import load_drawn_pendigits

    X, y = load_mnist("train")
    Xt, yt = load_mnist("test")
    Xpen, ypen, _ = load_drawn_pendigits("train")
    X = np.concatenate([X.astype(np.float32) / 255] + [Xpen] * pen_repeat)
    y = np.concatenate([y] + [ypen] * pen_repeat).astype(np.int64)
    Xt = Xt.astype(np.float32) / 255
    Xp, yp, _ = load_drawn_pendigits("test")
    return BaseData((X, y), "MNIST test", (Xt, yt.astype(np.int64)),
                    {"mnist_test": (Xt, yt), "pendigits_test": (Xp, yp)}, note={"pen_repeat": pen_repeat})


def hiragana_base(box: int) -> BaseData:
    """The synthetic training writers' hiragana (``lab.kana``), fitted into ``box``; judged on the held-out
    writers (``kana.TEST_WRITERS`` of the test writers; the next ``kana.HOLDOUT_WRITERS`` are the guard's)."""
    from . import kana

    X, y, _ = kana.load_drawn_hiragana("train", kana.TRAIN_WRITERS, box=box)
    Xt, yt, writers = kana.load_drawn_hiragana("test", kana.TEST_WRITERS + kana.HOLDOUT_WRITERS, box=box)
    evaluation = writers < writers.min() + kana.TEST_WRITERS
    Xe, ye = Xt[evaluation], yt[evaluation]
    return BaseData((X, y), "held-out writers", (Xe, ye), {"heldout_writers": (Xe, ye)},
                    guard_holdout=(Xt[~evaluation], yt[~evaluation]))


def base_data(alphabet, *, pen_repeat: int = PEN_REPEAT) -> BaseData:
    """The base data of ``alphabet`` (a :class:`models.alphabets.Alphabet`): the digits or the hiragana."""
    if alphabet.is_digits:
        return digits_base(pen_repeat)
    if alphabet.name == "hiragana":
        return hiragana_base(alphabet.box)
    raise ValueError(f"there is no training recipe for the alphabet {alphabet.name!r}: lab/recipe.py knows the "
                     "digits and the hiragana; give a third alphabet its base data there first")


# --- one epoch's images ---------------------------------------------------------------------------

class OutOfTime(Exception):
    """The deadline passed during an epoch: its steps are dropped, the last checkpoint stands."""


def epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    return np.random.default_rng([seed, epoch, 0x7265636970])  # "recip"


def distort(X: np.ndarray, seed: int) -> np.ndarray:
    """``X`` through :func:`lab.distort.random_distort`, in chunks, the same for the same ``seed``."""
    import tensorflow as tf

    from .distort import random_distort

    tf.random.set_seed(seed)  # eager random ops after this draw the same numbers every time
    return np.concatenate([random_distort(tf.constant(X[i:i + DISTORT_CHUNK]), tf.zeros(0))[0].numpy()
                           for i in range(0, len(X), DISTORT_CHUNK)]) if len(X) else X.copy()


def epoch_images(X: np.ndarray, y: np.ndarray, weights: np.ndarray, seed: int, epoch: int,
                 augment: bool = True) -> tuple[np.ndarray, np.ndarray, np.random.Generator]:
    """Epoch ``epoch``'s images in the order they are learned: each image ``weights[i]`` times, shuffled, and
    distorted (each copy its own way); and the epoch's generator for whatever else it draws."""
    weights = check_weights(weights, len(X))
    rng = epoch_rng(seed, epoch)
    order = np.repeat(np.arange(len(X)), weights)[rng.permutation(int(weights.sum()))]
    images = distort(X[order], int(rng.integers(2**31))) if augment else X[order]
    return images, np.asarray(y, dtype=np.int64)[order], rng


def check_weights(weights, n: int) -> np.ndarray:
    weights = np.asarray(weights)
    if weights.shape != (n,) or not np.issubdtype(weights.dtype, np.integer) or (weights < 0).any():
        raise ValueError(f"sample weights must be {n} whole numbers >= 0 (times each image appears in an epoch)")
    return weights.astype(np.int64)


# --- the trainers ---------------------------------------------------------------------------------

def _pack(arrays: dict[str, np.ndarray], state: dict) -> bytes:
    out = io.BytesIO()
    np.savez(out, state=np.array(json.dumps(state, sort_keys=True)), **arrays)
    return out.getvalue()


def _unpack(data: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        return json.loads(str(archive["state"])), {k: archive[k] for k in archive.files if k != "state"}


class EpochTrainer:
    """Trains one original from scratch an epoch at a time; :meth:`checkpoint` after any epoch, resume with
    :meth:`from_checkpoint`. ``n_samples``: images an epoch (the sum of the sample weights), which fixes the
    learning-rate schedule's length."""

    kind = ""

    def __init__(self, *, n_classes: int, n_samples: int, seed: int = 0, epochs: int | None = None,
                 augment: bool = True) -> None:
        if n_samples < 1:
            raise ValueError("an epoch needs at least one image")
        self.n_classes, self.n_samples, self.seed = int(n_classes), int(n_samples), int(seed)
        self.epochs = int(epochs or DEFAULT_EPOCHS[self.kind])
        self.augment = bool(augment)
        self.epochs_done, self.seconds, self.losses = 0, 0.0, []

    @property
    def done(self) -> bool:
        return self.epochs_done >= self.epochs

    @property
    def batches_per_epoch(self) -> int:
        return math.ceil(self.n_samples / BATCH_SIZE)

    def _state(self) -> dict:
        return {"kind": self.kind, "n_classes": self.n_classes, "n_samples": self.n_samples, "seed": self.seed,
                "epochs": self.epochs, "augment": self.augment, "epochs_done": self.epochs_done,
                "seconds": round(self.seconds, 3), "losses": self.losses}

    @classmethod
    def from_checkpoint(cls, data: bytes) -> "EpochTrainer":
        state, arrays = _unpack(data)
        trainer_cls = {c.kind: c for c in (FNNTrainer, CNNTrainer)}.get(state.get("kind"))
        if trainer_cls is None or (cls is not EpochTrainer and trainer_cls is not cls):
            raise ValueError(f"not a {cls.kind or 'training'} checkpoint (kind {state.get('kind')!r})")
        trainer = trainer_cls(n_classes=state["n_classes"], n_samples=state["n_samples"], seed=state["seed"],
                              epochs=state["epochs"], augment=state["augment"])
        trainer.epochs_done, trainer.seconds, trainer.losses = state["epochs_done"], state["seconds"], state["losses"]
        trainer._restore(arrays)
        return trainer

    def train_epoch(self, X: np.ndarray, y: np.ndarray, weights, *, deadline: float | None = None,
                    progress: Callable[[int, int], None] | None = None) -> float:
        """Train epoch ``epochs_done + 1``; returns its mean training loss. ``deadline``: a
        ``time.monotonic()`` past which the epoch is abandoned (:class:`OutOfTime`, nothing changed);
        ``progress(batch, batches)`` is called now and then."""
        if self.done:
            raise ValueError(f"all {self.epochs} epochs are trained")
        weights = check_weights(weights, len(X))
        if int(weights.sum()) != self.n_samples:
            raise ValueError(f"an epoch of these weights has {int(weights.sum())} images, not the {self.n_samples} "
                             "this run was planned with: resume a run with the data it started with")
        started = time.monotonic()
        images, labels, rng = epoch_images(X, y, weights, self.seed, self.epochs_done, self.augment)
        before = self._arrays()
        try:
            loss = self._epoch(images, labels, rng, deadline, progress)
        except OutOfTime:
            self._restore(before)  # only a finished epoch keeps its steps
            raise
        self.epochs_done += 1
        self.seconds += time.monotonic() - started
        self.losses.append(round(float(loss), 5))
        return loss

    def checkpoint(self) -> bytes:
        """The whole state after the epochs done, as bytes (an ``.npz``)."""
        return _pack(self._arrays(), self._state())

    def model(self):
        """The model as trained so far (:class:`models.fnn.FNN` or :class:`models.cnn.CNN`)."""
        return self._model

    # what each kind defines
    def _epoch(self, images, labels, rng, deadline, progress) -> float:
        raise NotImplementedError

    def _arrays(self) -> dict[str, np.ndarray]:
        """Copies of the weights and the optimizer's state."""
        raise NotImplementedError

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        raise NotImplementedError


def _check_deadline(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise OutOfTime()


class FNNTrainer(EpochTrainer):
    """:class:`models.fnn.FNN`'s ``fit``, epoch by epoch: SGD with momentum 0.9, lr 0.05 on a cosine schedule
    over every step of the run, L2 1e-4, batches of 128."""

    kind = "fnn"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        from models.fnn import FNN

        self._model = FNN(seed=self.seed, n_classes=self.n_classes)
        self._velocity = {name: np.zeros_like(getattr(self._model, name)) for name in ("W1", "b1", "W2", "b2")}

    def _epoch(self, images, labels, rng, deadline, progress) -> float:
        model, n_batches = self._model, self.batches_per_epoch
        total = self.epochs * n_batches
        losses = []
        for b in range(n_batches):
            if b % 50 == 0:
                _check_deadline(deadline)
                if progress:
                    progress(b, n_batches)
            lr = 0.5 * model.lr * (1 + np.cos(np.pi * (self.epochs_done * n_batches + b) / total))
            x, t = images[b * BATCH_SIZE:(b + 1) * BATCH_SIZE], labels[b * BATCH_SIZE:(b + 1) * BATCH_SIZE]
            grads = model._gradients(x, t)  # the FNN's own gradients (cross-entropy + L2), as its fit takes them
            for name, velocity in self._velocity.items():
                self._velocity[name] = model.momentum * velocity - lr * grads[name]
                getattr(model, name)[...] += self._velocity[name]
            if b % 50 == 0:
                losses.append(model.loss(x[:32], t[:32]))
        return float(np.mean(losses))

    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = {name: getattr(self._model, name).copy() for name in self._velocity}
        arrays.update({f"velocity_{name}": v.copy() for name, v in self._velocity.items()})
        return arrays

    def _restore(self, arrays) -> None:
        for name in self._velocity:
            setattr(self._model, name, arrays[name].astype(np.float32))
            self._velocity[name] = arrays[f"velocity_{name}"].copy()  # float64 after a step, as in FNN.fit


class CNNTrainer(EpochTrainer):
    """:class:`models.cnn.CNN`'s ``fit``, epoch by epoch: Adam at 1e-3 on a cosine decay to 1% over every step
    of the run, softmax cross-entropy, dropout 0.4, batches of 128; dropout reseeded from (seed, epoch) at the
    start of each epoch."""

    kind = "cnn"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        import keras
        import tensorflow as tf

        from models.cnn import CNN

        self._model = CNN(seed=self.seed, n_classes=self.n_classes)
        network = self._model.network
        schedule = keras.optimizers.schedules.CosineDecay(self._model.lr, self.epochs * self.batches_per_epoch,
                                                          alpha=0.01)
        self._optimizer = keras.optimizers.Adam(schedule)
        self._optimizer.build(network.trainable_variables)
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

        def step(x, y):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, network(x, training=True))
            grads = tape.gradient(loss, network.trainable_variables)
            self._optimizer.apply_gradients(zip(grads, network.trainable_variables))
            return loss

        spec = [tf.TensorSpec([None, 28, 28], tf.float32), tf.TensorSpec([None], tf.int32)]
        self._step = tf.function(step, input_signature=spec, autograph=False)
        self._dropout = network.get_layer("dropout").seed_generator.state

    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = {f"w{i:02d}": w for i, w in enumerate(self._model.network.get_weights())}
        arrays.update({f"opt{i:03d}": v.numpy() for i, v in enumerate(self._optimizer.variables)})
        return arrays

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self._model.network.set_weights([arrays[k] for k in sorted(arrays) if k.startswith("w")])
        variables = self._optimizer.variables
        saved = [arrays[k] for k in sorted(arrays) if k.startswith("opt")]
        if len(saved) != len(variables) or any(v.shape != s.shape for v, s in zip(variables, saved)):
            raise ValueError("the checkpoint's optimizer state does not fit this CNN")
        for variable, value in zip(variables, saved):
            variable.assign(value)

    def _epoch(self, images, labels, rng, deadline, progress) -> float:
        self._dropout.assign([int(rng.integers(2**31)), 0])
        labels = labels.astype(np.int32)
        losses = []
        for b in range(self.batches_per_epoch):
            if b % 50 == 0:
                _check_deadline(deadline)
                if progress:
                    progress(b, self.batches_per_epoch)
            sl = slice(b * BATCH_SIZE, (b + 1) * BATCH_SIZE)
            loss = self._step(images[sl], labels[sl])
            if b % 50 == 0:
                losses.append(float(loss))
        return float(np.mean(losses))


TRAINERS: dict[str, type[EpochTrainer]] = {"fnn": FNNTrainer, "cnn": CNNTrainer}
