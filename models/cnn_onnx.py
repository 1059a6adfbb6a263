"""The CNN as a web worker serves it: ONNX Runtime, no TensorFlow.

A web worker never learns, so it needs the CNN's forward pass only. Importing
TensorFlow costs a worker ~590 MB and 2.5 s; ONNX Runtime costs ~30 MB and
runs this network faster than Keras does (README, "Serving without
TensorFlow": 0.26 ms for one drawing against Keras' 0.69 ms and a numpy
im2col forward pass's 0.43 ms).

The network's *graph* is fixed and committed (``models/weights/cnn-graph.onnx``,
1.3 KB, made by :func:`build_graph`); its *weights* are whatever version the
learner published, read from the same ``.npz`` archive :mod:`models.cnn` writes
and handed to ONNX Runtime as external initializers when a session is made
(~6 ms, once per version). The graph takes the Keras arrays as they are
(kernels [k,k,C,F], feature maps NHWC), so no layout code lives here, and any
published version is servable at once.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.random((3, 28, 28), dtype=np.float32)
>>> model = OnnxCNN.from_bytes(OnnxCNN(random_weights(seed=0)).to_bytes())
>>> p = model.predict_proba(X)
>>> p.shape, bool(np.allclose(p.sum(axis=1), 1))
((3, 10), True)
>>> {name: m.shape for name, m in model.activations(X[:1]).items()}
{'conv1': (1, 28, 28, 32), 'pool1': (1, 14, 14, 32), 'conv2': (1, 14, 14, 64), 'pool2': (1, 7, 7, 64)}
"""

from __future__ import annotations

import io
import json

import numpy as np
import onnxruntime as ort

from .base import as_batch
from .registry import WEIGHTS_DIR

GRAPH_PATH = WEIGHTS_DIR / "cnn-graph.onnx"
FEATURE_LAYERS = ("conv1", "pool1", "conv2", "pool2")
# The Keras network's weights in ``get_weights`` order: the graph's initializer names and shapes.
WEIGHTS = (("conv1_kernel", (5, 5, 1, 32)), ("conv1_bias", (32,)), ("conv2_kernel", (5, 5, 32, 64)),
           ("conv2_bias", (64,)), ("fc1_kernel", (3136, 128)), ("fc1_bias", (128,)),
           ("logits_kernel", (128, 10)), ("logits_bias", (10,)))
OPSET, IR_VERSION = 17, 8  # pinned, so the committed graph is byte-for-byte what build_graph makes


def build_graph() -> bytes:
    """The network of :func:`models.cnn.build_network` as an ONNX graph whose weights live outside it.

    Needs the ``onnx`` package (a development dependency); serving reads the
    committed file instead. ``python -m models.cnn_onnx`` rewrites it.
    """
    import onnx
    from onnx import TensorProto, helper

    def node(op, inputs, output, **attrs):
        return helper.make_node(op, inputs, [output], name=output, **attrs)

    nhwc = [0, 2, 3, 1]
    nodes = [
        node("Unsqueeze", ["images", "channel_axis"], "image"),  # [N,28,28] -> [N,1,28,28]
        node("Transpose", ["conv1_kernel"], "conv1_oihw", perm=[3, 2, 0, 1]),  # Keras [k,k,C,F] -> [F,C,k,k]
        node("Conv", ["image", "conv1_oihw", "conv1_bias"], "conv1_linear", pads=[2, 2, 2, 2]),
        node("Relu", ["conv1_linear"], "conv1_nchw"),
        node("MaxPool", ["conv1_nchw"], "pool1_nchw", kernel_shape=[2, 2], strides=[2, 2]),
        node("Transpose", ["conv2_kernel"], "conv2_oihw", perm=[3, 2, 0, 1]),
        node("Conv", ["pool1_nchw", "conv2_oihw", "conv2_bias"], "conv2_linear", pads=[2, 2, 2, 2]),
        node("Relu", ["conv2_linear"], "conv2_nchw"),
        node("MaxPool", ["conv2_nchw"], "pool2_nchw", kernel_shape=[2, 2], strides=[2, 2]),
        *(node("Transpose", [f"{name}_nchw"], name, perm=nhwc) for name in FEATURE_LAYERS),
        node("Flatten", ["pool2"], "flatten"),  # NHWC order, as Keras' Flatten
        node("Gemm", ["flatten", "fc1_kernel", "fc1_bias"], "fc1_linear"),
        node("Relu", ["fc1_linear"], "fc1"),  # dropout is off at inference
        node("Gemm", ["fc1", "logits_kernel", "logits_bias"], "logits"),
        node("Softmax", ["logits"], "probs", axis=1),
    ]
    initializers = [helper.make_tensor("channel_axis", TensorProto.INT64, [1], [1])]
    for name, shape in WEIGHTS:
        tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=shape,
                             data_location=TensorProto.EXTERNAL)
        tensor.external_data.add(key="location", value="(given when a session is made)")
        initializers.append(tensor)
    maps = {"conv1": [28, 28, 32], "pool1": [14, 14, 32], "conv2": [14, 14, 64], "pool2": [7, 7, 64]}
    graph = helper.make_graph(
        nodes, "inkling_cnn", [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 28, 28])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 10])]
        + [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", *maps[name]]) for name in FEATURE_LAYERS],
        initializers)
    model = helper.make_model(graph, producer_name="inkling", opset_imports=[helper.make_opsetid("", OPSET)],
                              ir_version=IR_VERSION)
    checkable = onnx.ModelProto.FromString(model.SerializeToString())  # the checker wants the data at hand
    for tensor in checkable.graph.initializer[1:]:
        tensor.CopyFrom(onnx.numpy_helper.from_array(np.zeros(tensor.dims, np.float32), tensor.name))
    onnx.checker.check_model(checkable, full_check=True)
    return model.SerializeToString()


def random_weights(seed: int = 0) -> list[np.ndarray]:
    """He-scaled random weights of the right shapes (tests and doctests; the service loads trained ones)."""
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(shape) * np.sqrt(2 / np.prod(shape[:-1]))).astype(np.float32) if len(shape) > 1
            else np.zeros(shape, np.float32) for _, shape in WEIGHTS]


class OnnxCNN:
    """Inference twin of :class:`models.cnn.CNN`: the same archives in and out, predictions and feature maps.

    Learning stays with the Keras model in the learner; this is the predicting
    half of the estimator interface (``predict_proba``, ``activations``, weights).
    """

    kind = "cnn"
    _graph: bytes | None = None

    def __init__(self, weights: list[np.ndarray], config: dict | None = None, steps: int = 0):
        self.config, self.steps_ = dict(config or {}), steps
        self.set_weights(weights)

    def set_weights(self, weights: list[np.ndarray]) -> None:
        """Serve these weights: one new session, swapped in by a single assignment (safe for readers)."""
        shapes = tuple(tuple(np.shape(w)) for w in weights)
        expected = tuple(shape for _, shape in WEIGHTS)
        if shapes != expected:
            raise ValueError(f"expected CNN weights of shapes {expected}, got {shapes}")
        arrays = [np.ascontiguousarray(w, dtype=np.float32) for w in weights]
        options = ort.SessionOptions()
        # One thread per run: a server runs many one-drawing calls at once (as models.cnn's TF set-up).
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.add_external_initializers([name for name, _ in WEIGHTS],
                                          [ort.OrtValue.ortvalue_from_numpy(a) for a in arrays])
        session = ort.InferenceSession(self.graph(), options, providers=["CPUExecutionProvider"])
        self._weights, self._session = arrays, session

    def get_weights(self) -> list[np.ndarray]:
        return [w.copy() for w in self._weights]

    @classmethod
    def graph(cls) -> bytes:
        if cls._graph is None:
            cls._graph = GRAPH_PATH.read_bytes()
        return cls._graph

    # --- inference ----------------------------------------------------------

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """float32[N,10] class probabilities for float32[N,28,28] images in [0,1]."""
        return self._session.run(["probs"], {"images": as_batch(X)})[0]

    def activations(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Hidden feature maps by layer name: ``{name: float32[N,H,W,C]}`` (ReLU outputs, >= 0)."""
        return dict(zip(FEATURE_LAYERS, self._session.run(list(FEATURE_LAYERS), {"images": as_batch(X)})))

    # --- persistence (the archive format of models.cnn.CNN) ---------------------

    @staticmethod
    def read_weights(data: bytes) -> list[np.ndarray]:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            return [archive[k] for k in sorted(k for k in archive.files if k.startswith("w"))]

    @classmethod
    def from_bytes(cls, data: bytes) -> "OnnxCNN":
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            config = json.loads(str(archive["config"])) if "config" in archive.files else {}
            steps = int(archive["steps"]) if "steps" in archive.files else 0
        return cls(cls.read_weights(data), config, steps)

    def to_bytes(self) -> bytes:
        out = io.BytesIO()
        np.savez(out, config=np.array(json.dumps(self.config)), steps=np.int64(self.steps_),
                 **{f"w{i:02d}": w for i, w in enumerate(self._weights)})
        return out.getvalue()


if __name__ == "__main__":
    GRAPH_PATH.write_bytes(build_graph())
    print(f"wrote {GRAPH_PATH} ({GRAPH_PATH.stat().st_size} bytes)")
