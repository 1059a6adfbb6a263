"""The web entry point: ``uvicorn service.app:app``.

It puts the wings together. A web worker (:mod:`service.web`) runs on the
deployment's shared parts (:mod:`service.core`); with ``INKLING_ROLE=all``
(the default) the learner (:mod:`service.learn`) runs beside it on the same
parts, so one process serves and learns. Configure it with ``INKLING_*``
environment variables (:class:`service.core.settings.Settings`).
"""

from __future__ import annotations

from fastapi import FastAPI

from .core.metrics import Metrics
from .core.parts import build_parts
from .core.settings import Settings, load_settings
from .web.app import create_web_app
from .web.runtime import build_web


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    metrics = Metrics()

    def start():
        parts = build_parts(settings, metrics)
        companions = []
        if settings.role == "all":
            from .learn.build import build_learner  # TensorFlow: only where the learner runs

            companions.append(build_learner(parts, threads=settings.tf_threads))
        return build_web(parts), companions

    return create_web_app(settings, metrics, start)


app = create_app()
