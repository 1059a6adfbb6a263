"""A small convolutional network in TensorFlow/Keras, served through compiled functions.

Architecture (why: see docs/models.md, "The CNN"): two 5x5 convolution + 2x2 max-pool
stages (32 then 64 filters) and one 128-unit dense layer with dropout::

    input 28x28x1 -> conv1 5x5x32 -> pool1 -> conv2 5x5x64 -> pool2 -> fc1 128 -> dropout 0.4 -> logits 10

Keras' ``model.predict`` builds a data pipeline on every call (about 50 ms
for one image here); we call the model through ``tf.function``s traced once
with a variable batch size, which costs about 1 ms.

>>> import numpy as np
>>> model = CNN(n_classes=10, seed=0)
>>> X, y = np.zeros((24, 28, 28), np.float32), np.arange(24) % 10
>>> before = model.loss(X, y)
>>> model.partial_fit(X, y).loss(X, y) < before
True
>>> sorted(model.activations(X[:1]))
['conv1', 'conv2', 'pool1', 'pool2']
"""

from __future__ import annotations

import io
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's C++ start-up chatter is not ours to print

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

from .base import as_batch, read_layer_weights  # noqa: E402

FEATURE_LAYERS = ("conv1", "pool1", "conv2", "pool2")
STEP_DTYPES = ("float32", "bfloat16")
_IMAGES = tf.TensorSpec([None, 28, 28], tf.float32)
_LABELS = tf.TensorSpec([None], tf.int32)


def build_network(n_classes: int, seed: int = 0, dropout: float = 0.4) -> keras.Model:
    """The Keras network; layer names are the ones :meth:`CNN.activations` reports."""
    init = keras.initializers.HeNormal(seed=seed)
    return keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Reshape((28, 28, 1), name="image"),
            keras.layers.Conv2D(32, 5, padding="same", activation="relu", kernel_initializer=init, name="conv1"),
            keras.layers.MaxPooling2D(2, name="pool1"),
            keras.layers.Conv2D(64, 5, padding="same", activation="relu", kernel_initializer=init, name="conv2"),
            keras.layers.MaxPooling2D(2, name="pool2"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(128, activation="relu", kernel_initializer=init, name="fc1"),
            keras.layers.Dropout(dropout, seed=seed, name="dropout"),
            keras.layers.Dense(n_classes, kernel_initializer=keras.initializers.GlorotUniform(seed=seed), name="logits"),
        ],
        name="inkling_cnn",
    )


class CNN:
    """Keras CNN with the shared estimator interface (see :class:`models.base.DigitClassifier`)."""

    kind = "cnn"

    def __init__(self, *, n_classes: int, lr: float = 1e-3, online_lr: float = 0.01, dropout: float = 0.4,
                 seed: int = 0, online_clipnorm: float = 1.0):
        self.lr, self.dropout, self.seed, self.online_clipnorm = lr, dropout, seed, online_clipnorm
        self.n_classes = n_classes
        self.network = build_network(n_classes, seed, dropout)
        self.steps_ = 0
        self._loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        # Plain SGD online: its state is the weights alone, so a persisted
        # version is the whole truth and any worker can continue from it.
        # Clipping the gradient's norm bounds what one odd drawing can do: without
        # it, one step in a few hundred cost the holdout several points.
        self._online_optimizer = keras.optimizers.SGD(learning_rate=online_lr, global_clipnorm=online_clipnorm)
        self._online_optimizer.build(self.network.trainable_variables)
        self._online_lr = float(online_lr)
        self._features = keras.Model(
            self.network.inputs, [self.network.get_layer(name).output for name in FEATURE_LAYERS]
        )
        self._predict_fn = tf.function(self._predict_graph, input_signature=[_IMAGES], autograph=False)
        self._features_fn = tf.function(lambda x: self._features(x, training=False), input_signature=[_IMAGES],
                                        autograph=False)
        self.step_dtype = "float32"
        self._loss_graph_fn = tf.function(
            lambda x, y: self._loss_fn(y, self.network(x, training=False)), input_signature=[_IMAGES, _LABELS],
            autograph=False,
        )

    @property
    def step_dtype(self) -> str:
        """What an online step computes in: ``"float32"``, or ``"bfloat16"`` for the convolutions and fc1.

        How a machine learns, not what was learned: it is not saved with the
        weights, which stay float32 either way (and so does every prediction).
        In bfloat16 (mixed precision: float32 weights, bfloat16 arithmetic, the
        update in float32) a step on 48 images takes 18 ms of CPU instead of
        29 on a CPU with AVX512-BF16, which a learner serving a crowd needs;
        on a CPU without it, bfloat16 is emulated and slower, so keep float32.
        Measured to learn as well: docs/performance.md, "Learning in bfloat16".
        """
        return self._step_dtype

    @step_dtype.setter
    def step_dtype(self, value: str) -> None:
        if value not in STEP_DTYPES:
            raise ValueError(f"step_dtype must be one of {STEP_DTYPES}, not {value!r}")
        self._step_dtype = value
        self._step_fn = tf.function(self._step_graph, input_signature=[_IMAGES, _LABELS], autograph=False)

    @property
    def online_lr(self) -> float:
        return self._online_lr

    @online_lr.setter
    def online_lr(self, value: float) -> None:
        # The optimizer's rate is a variable read by the compiled step: no retrace.
        self._online_lr = float(value)
        self._online_optimizer.learning_rate = self._online_lr

    # --- inference ----------------------------------------------------------

    def _predict_graph(self, x):
        return tf.nn.softmax(self.network(x, training=False))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """float32[N,10] class probabilities for float32[N,28,28] images in [0,1]."""
        return self._predict_fn(as_batch(X)).numpy()

    def activations(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Hidden feature maps by layer name: ``{name: float32[N,H,W,C]}`` (ReLU outputs, >= 0)."""
        return {name: t.numpy() for name, t in zip(FEATURE_LAYERS, self._features_fn(as_batch(X)))}

    def loss(self, X: np.ndarray, y: np.ndarray) -> float:
        """Mean cross-entropy of ``y`` under the model (dropout off)."""
        return float(self._loss_graph_fn(as_batch(X), np.asarray(y, dtype=np.int32)))

    # --- learning -----------------------------------------------------------

    def _logits(self, x, dtype: tf.DType, training: bool):
        """The network's forward pass with its convolutions and fc1 computed in ``dtype``.

        The same layers and weights as ``self.network`` (each weight cast on
        the way in, so gradients reach the float32 variables); the logits come
        out in float32. With ``tf.float32`` it is the Keras model exactly (tested).
        """
        layer = self.network.get_layer
        h = tf.cast(tf.reshape(x, [-1, 28, 28, 1]), dtype)
        for conv in ("conv1", "conv2"):
            kernel, bias = (tf.cast(w, dtype) for w in layer(conv).weights)
            h = tf.nn.max_pool2d(tf.nn.relu(tf.nn.conv2d(h, kernel, 1, "SAME") + bias), 2, 2, "VALID")
        kernel, bias = (tf.cast(w, dtype) for w in layer("fc1").weights)
        h = tf.nn.relu(tf.matmul(tf.reshape(h, [-1, kernel.shape[0]]), kernel) + bias)
        return layer("logits")(layer("dropout")(tf.cast(h, tf.float32), training=training))

    def _step_graph(self, x, y):
        with tf.GradientTape() as tape:
            if self.step_dtype == "float32":
                logits = self.network(x, training=True)
            else:
                logits = self._logits(x, tf.dtypes.as_dtype(self.step_dtype), training=True)
            loss = self._loss_fn(y, logits)
        grads = tape.gradient(loss, self.network.trainable_variables)
        self._online_optimizer.apply_gradients(zip(grads, self.network.trainable_variables))
        return loss

    def partial_fit(self, X: np.ndarray, y: np.ndarray) -> "CNN":
        """Exactly one SGD step on this batch at ``online_lr`` (compiled)."""
        self._step_fn(as_batch(X), np.asarray(y, dtype=np.int32))
        self.steps_ += 1
        return self

    def fit(self, X: np.ndarray, y: np.ndarray, epochs: int = 12, batch_size: int = 128,
            augment=None, validation_data=None, callbacks=(), verbose: int = 1) -> "CNN":
        """Offline training with Adam and a cosine learning-rate decay.

        ``augment(images, labels) -> (images, labels)`` is a TensorFlow
        function applied to each training batch (random distortions).
        """
        X, y = as_batch(X), np.asarray(y, dtype=np.int32)
        steps = epochs * int(np.ceil(len(X) / batch_size))
        schedule = keras.optimizers.schedules.CosineDecay(self.lr, steps, alpha=0.01)
        self.network.compile(optimizer=keras.optimizers.Adam(schedule), loss=self._loss_fn, metrics=["accuracy"])
        data = tf.data.Dataset.from_tensor_slices((X, y)).shuffle(len(X), seed=self.seed).batch(batch_size)
        if augment is not None:
            data = data.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
        self.network.fit(data.prefetch(tf.data.AUTOTUNE), epochs=epochs, validation_data=validation_data,
                         callbacks=list(callbacks), verbose=verbose)
        return self

    # --- persistence --------------------------------------------------------

    def _config(self) -> dict:
        config = {"lr": self.lr, "online_lr": self.online_lr, "dropout": self.dropout, "seed": self.seed,
                  "online_clipnorm": self.online_clipnorm}
        if self.n_classes != 10:  # the digits' archives stay byte for byte as they were
            config["n_classes"] = self.n_classes
        return config

    def get_weights(self) -> list[np.ndarray]:
        """Copies of all weights, in layer order."""
        return self.network.get_weights()

    def set_weights(self, weights: list[np.ndarray]) -> None:
        self.network.set_weights(weights)

    def to_bytes(self) -> bytes:
        """Weights (in layer order) and hyper-parameters as an ``.npz`` archive (no pickle)."""
        out = io.BytesIO()
        weights = {f"w{i:02d}": w for i, w in enumerate(self.network.get_weights())}
        np.savez(out, config=np.array(json.dumps(self._config())), steps=np.int64(self.steps_), **weights)
        return out.getvalue()

    read_weights = staticmethod(read_layer_weights)  # the weights of a to_bytes archive, without a network

    @classmethod
    def from_bytes(cls, data: bytes) -> "CNN":
        weights = read_layer_weights(data)
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            config = json.loads(str(archive["config"]))
            config.setdefault("n_classes", len(weights[-1]))  # as many classes as the archive's logits
            model = cls(**config)
            model.steps_ = int(archive["steps"])
        model.network.set_weights(weights)
        return model
