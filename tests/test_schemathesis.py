"""Schemathesis against the service's own OpenAPI schema, over real HTTP (uvicorn in a subprocess).

Every operation in ``/openapi.json`` gets generated requests, valid and invalid (schemathesis' default
generation modes), and every response must be no 5xx (``not_a_server_error``) and match the documented
schema for its status (``response_schema_conformance``). Nothing is excluded:

- the image fields are strings schemathesis cannot make into PNGs, so each case whose body has an
  ``image`` is also sent once more with a real pen-drawn digit in it (the other generated fields kept),
  which reaches the success responses of predict, activations and drawings;
- rollback needs ``INKLING_ADMIN_TOKEN``: it is set, schemathesis' own ``authorization`` values get the
  documented 401, and each case is also sent once more with the real token (404/422/200).

Bounded: ``INKLING_SCHEMATHESIS_EXAMPLES`` (default 25) examples per operation, derandomized (the same
cases every run), no example database. About a minute on 2 cores.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from inkling_testkit.live_service import LiveService
from inkling_testkit.load_client import UNLIMITED, pendigit_drawings
from service.app import create_app
from service.core.settings import Settings

TOKEN = "schemathesis-admin-token"
EXAMPLES = int(os.environ.get("INKLING_SCHEMATHESIS_EXAMPLES", "25"))
# status_code_conformance too: every status must be a documented one (it found the 400 FastAPI gave
# non-UTF-8 bodies, now 422 invalid_json).
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    env = {**UNLIMITED, "INKLING_ADMIN_TOKEN": TOKEN, "INKLING_GUARD_EVERY": "5"}
    with LiveService(tmp_path_factory.mktemp("schemathesis"), env) as service:
        yield service


# The schema is needed at collection time (one test per operation). schemathesis.pytest.from_fixture would
# load it from the live service, but schemathesis 4.32's lazy loader breaks on pytest 9 (it reads
# `request.node._nodeid`, which pytest 9 no longer has). So it comes from the app object, built but not
# started (no lifespan, no I/O), and test_live_schema_is_the_one_tested checks the live service serves it.
RAW_SCHEMA = create_app(Settings(data_dir=Path(tempfile.gettempdir()) / "inkling-schema-unused")).openapi()
schema = schemathesis.openapi.from_dict(RAW_SCHEMA)


@pytest.fixture(scope="module")
def real_image() -> str:
    return pendigit_drawings(1)[0].data_url


@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_openapi_conformance(case, live, real_image):
    base_url = live.base_url
    case.call_and_validate(base_url=base_url, checks=CHECKS)
    if case.method.upper() != case.operation.method.upper():
        return  # the coverage phase also tries methods the route does not have (405)
    # Generated values rarely get past validation; these variants reach the success responses too.
    if isinstance(case.body, dict) and "image" in case.body:
        case.body = {**case.body, "image": real_image}
        case.call_and_validate(base_url=base_url, checks=CHECKS)
    if case.path == "/api/models/{name}/rollback":
        auth = {"Authorization": f"Bearer {TOKEN}"}
        case.call_and_validate(base_url=base_url, checks=CHECKS, headers=auth)
        case.path_parameters = {**(case.path_parameters or {}), "name": "cnn_online"}
        case.call_and_validate(base_url=base_url, checks=CHECKS, headers=auth)
    if case.path == "/api/drawings/{drawing_id}.png":
        items = httpx.get(f"{base_url}/api/drawings", params={"limit": 1}, timeout=30).json()["items"]
        if items:
            case.path_parameters = {"drawing_id": items[0]["id"]}
            response = case.call_and_validate(base_url=base_url, checks=CHECKS)
            assert response.status_code == 200 and response.content.startswith(b"\x89PNG")


def test_live_schema_is_the_one_tested(live):
    assert httpx.get(f"{live.base_url}/openapi.json", timeout=30).json() == RAW_SCHEMA


def test_schema_covers_every_route():
    """The run above means something only if the schema lists the routes the README documents."""
    paths = set(RAW_SCHEMA["paths"])
    assert paths >= {"/api/predict", "/api/activations", "/api/drawings", "/api/drawings/{drawing_id}.png",
                     "/api/stats", "/api/models", "/api/models/{name}/rollback", "/api/config", "/healthz",
                     "/metrics"}, paths

