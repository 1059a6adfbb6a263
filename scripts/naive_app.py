"""The seed project's serving design, for side-by-side benchmarks only (``scripts/bench.py``).

Same preprocessing and the same shipped weights, but each request calls
Keras ``model.predict`` once per Keras model, as the seed did. Not part of
the service.
"""

from __future__ import annotations

import numpy as np
from fastapi import FastAPI

from models import load_original, preprocess_drawing
from models.ensemble import combine
from service.metrics import Metrics, MetricsMiddleware
from service.schemas import ImageIn

app = FastAPI()
app.add_middleware(MetricsMiddleware, metrics=Metrics())  # the same Server-Timing header as the service
_fnn, _cnn = load_original("fnn"), load_original("cnn")
_online_fnn, _online_cnn = load_original("fnn"), load_original("cnn")


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.post("/api/predict")
def predict(body: ImageIn):
    x = preprocess_drawing(body.image)[None]
    probs = {
        "fnn_original": _fnn.predict_proba(x)[0],
        "fnn_online": _online_fnn.predict_proba(x)[0],
        "cnn_original": _cnn.network.predict(x, verbose=0)[0],
        "cnn_online": _online_cnn.network.predict(x, verbose=0)[0],
    }
    probs = {k: np.exp(v - v.max()) / np.exp(v - v.max()).sum() if k.startswith("cnn") else v
             for k, v in probs.items()}  # the Keras network outputs logits
    answer = combine(probs)
    return {"answer": {"digit": answer.digit, "p": answer.p}}
