"""The deployment files say what the service can do: compose.yaml (validated as `compose config` would, and by
podman-compose where it is installed), app.json (Heroku's schema, and every variable a setting the service
reads), heroku.yml and the Dockerfile (the targets they name exist), and the Procfile, whose every line is
started here as Heroku starts it (bash, PORT and DYNO set) and answers."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from inkling_testkit.containers import find_compose
from service.core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
APP_JSON = json.loads((ROOT / "app.json").read_text())
HEROKU_YML = yaml.safe_load((ROOT / "heroku.yml").read_text())
PROCFILE = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
VARIABLE = re.compile(r"^\$\{([A-Z_][A-Z0-9_]*):-([^}]+)\}$")


def setting_names() -> set[str]:
    """Every environment variable Settings reads (INKLING_<field>, and fields' own aliases: PORT, DYNO, ...)."""
    names = set()
    for name, field in Settings.model_fields.items():
        names.add(f"INKLING_{name.upper()}")
        alias = field.validation_alias
        choices = getattr(alias, "choices", [alias] if alias else [])
        names.update(str(choice).upper() for choice in choices)
    return names


# --- compose.yaml ----------------------------------------------------------------------------------


def test_compose_has_the_stack_with_images_named_through_variables():
    services = COMPOSE["services"]
    assert set(services) == {"proxy", "web", "learner", "retrain", "redis", "s3"}
    for name, service in services.items():
        match = VARIABLE.match(service["image"])
        assert match, f"{name}: image {service['image']!r} is not ${{VARIABLE:-default}}"
    assert VARIABLE.match(services["redis"]["image"]).groups() == ("REDIS_IMAGE", "redis:7")
    for name, service in services.items():
        for needed in service.get("depends_on", []):
            assert needed in services, f"{name} depends on {needed}, which is not a service"


def test_compose_roles():
    services = COMPOSE["services"]
    web, learner, retrain = services["web"], services["learner"], services["retrain"]
    assert web["environment"]["INKLING_ROLE"] == "web" and web["build"]["target"] == "web"
    assert web["environment"]["INKLING_TRUSTED_PROXIES"] == "1"  # behind the proxy: its address is everyone's
    assert VARIABLE.match(str(web["deploy"]["replicas"])).group(2) == "2"
    assert learner["command"] == ["python", "-m", "service.learner"] and "replicas" not in learner.get("deploy", {})
    assert retrain["command"] == ["python", "-m", "service.retrain"] and retrain["profiles"] == ["retrain"]
    assert [p for name, s in services.items() for p in s.get("profiles", [])] == ["retrain"]  # the only one off
    for service in (web, learner, retrain):
        env = service["environment"]
        assert env["INKLING_STORAGE"] == "s3" and env["INKLING_QUEUE_URL"].startswith("redis://redis:")
        assert set(k for k in env if k.startswith("INKLING_")) <= setting_names()
    assert services["proxy"]["ports"] == ["${INKLING_LISTEN:-127.0.0.1:8080}:80"]  # one port, loopback unless told
    assert [s for s in services if services[s].get("ports")] == ["proxy"]


def test_compose_keeps_the_queue_and_the_store_on_volumes():
    redis, s3 = COMPOSE["services"]["redis"], COMPOSE["services"]["s3"]
    assert "--appendonly" in redis["command"] and redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    assert redis["command"][redis["command"].index("--maxmemory-policy") + 1] == "noeviction"
    assert redis["volumes"] == ["redis-data:/data"] and s3["volumes"] == ["s3-data:/data"]
    assert set(COMPOSE["volumes"]) == {"redis-data", "s3-data"}
    assert "s3.bucket.create -name $$BUCKET" in s3["command"][0]  # the bucket is made at start


def test_nginx_config_buffers_and_forwards():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    for directive in ("proxy_request_buffering on", "client_header_timeout 10s", "client_body_timeout 30s",
                      "client_max_body_size 1m", "limit_conn per_client 32",
                      "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for", "server web:8000"):
        assert directive in conf




@pytest.mark.skipif(find_compose() is None, reason="podman-compose not installed (scripts/install --dev)")
@pytest.mark.parametrize("profile", [None, "retrain"])
def test_podman_compose_reads_the_file(profile):
    args = [find_compose(), "-f", str(ROOT / "compose.yaml"), *(["--profile", profile] if profile else []), "config"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "REDIS_IMAGE": "localhost/some-redis:7"})
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(done.stdout)
    assert config["services"]["redis"]["image"] == "localhost/some-redis:7"
    assert config["services"]["web"]["environment"]["AWS_ACCESS_KEY_ID"] == "inkling"


# --- Heroku ----------------------------------------------------------------------------------------


def test_app_json_follows_herokus_schema():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "tests" / "schemas" / "heroku-app.schema.json").read_text())
    jsonschema.validate(APP_JSON, schema)
    with pytest.raises(jsonschema.ValidationError):  # the schema can fail: a misspelt key does
        jsonschema.validate({**APP_JSON, "formations": {}}, schema)


def test_app_json_needs_no_hand_edits():
    env, known = APP_JSON["env"], setting_names()
    assert {name for name in env if name.startswith("INKLING_")} <= known, "a variable no setting reads"
    assert env["INKLING_STORAGE"]["value"] == "s3"  # a dyno's disk is wiped at restart
    assert env["INKLING_TRUSTED_PROXIES"]["value"] == "1"
    assert all(env[name]["required"] for name in ("INKLING_S3_BUCKET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"))
    assert env["INKLING_ADMIN_TOKEN"]["generator"] == "secret"  # 64 characters: long enough to start
    (queue,) = APP_JSON["addons"]
    assert queue["plan"].startswith("heroku-redis:") and f"{queue['as']}_URL" == "INKLING_QUEUE_URL"
    assert set(APP_JSON["formation"]) <= set(PROCFILE) and APP_JSON["formation"]["worker"]["quantity"] == 1
    sizes = {f["size"] for f in APP_JSON["formation"].values()}
    assert len(sizes & {"eco", "basic"}) == 0 or len(sizes) == 1, "Heroku does not mix eco or basic dynos with others"
    assert APP_JSON["formation"]["web"]["size"] in {"basic", "standard-1x"}  # 512 MB: what the soak measured
    assert APP_JSON["stack"] == "container"


def test_heroku_yml_builds_the_dockerfiles_targets():
    targets = re.findall(r"^FROM \S+ AS (\S+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert targets[-1] == "full"  # the default target
    built = HEROKU_YML["build"]["docker"]
    assert {name: b["target"] for name, b in built.items()} == {"web": "web", "worker": "full"}
    assert HEROKU_YML["release"]["command"] == [PROCFILE["release"]]
    assert HEROKU_YML["run"]["worker"]["command"] == [PROCFILE["worker"]]
    assert HEROKU_YML["run"]["retrain"]["command"] == [PROCFILE["retrain"]]


# --- the Procfile, every line started as Heroku starts it ------------------------------------------------


@pytest.fixture
def heroku_env(seaweedfs, s3_bucket, queue_env, tmp_path):
    return {**os.environ, **seaweedfs.env(), **queue_env, "INKLING_STORAGE": "s3", "INKLING_S3_BUCKET": s3_bucket,
            "INKLING_S3_ENDPOINT_URL": seaweedfs.endpoint_url, "INKLING_TRUSTED_PROXIES": "1",
            "INKLING_ROLE": "web", "PYTHONUNBUFFERED": "1", "HOME": str(tmp_path),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def start_line(name: str, env: dict, log: Path, **extra) -> subprocess.Popen:
    return subprocess.Popen(["bash", "-c", PROCFILE[name]], cwd=ROOT, env={**env, "DYNO": f"{name}.1", **extra},
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)


def wait_for(predicate, timeout: float, process: subprocess.Popen, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (value := predicate()) is not None:
            return value
        assert process.poll() is None, f"exited with {process.returncode}:\n{log.read_text()[-3000:]}"
        time.sleep(0.1)
    raise AssertionError(f"not ready within {timeout} s:\n{log.read_text()[-3000:]}")


def end(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.s3
@pytest.mark.redis
def test_procfile_release_web_and_worker_lines_start_and_answer(heroku_env, tmp_path):
    from inkling_testkit.live_service import free_port
    from inkling_testkit.load_client import pendigit_drawings

    release = subprocess.run(["bash", "-c", PROCFILE["release"]], cwd=ROOT, capture_output=True, text=True,
                             env={**heroku_env, "DYNO": "release.1"}, timeout=120)
    assert release.returncode == 0 and "release check passed" in release.stdout, release.stderr

    port = free_port()
    web = start_line("web", heroku_env, tmp_path / "web.log", PORT=str(port))
    worker = start_line("worker", heroku_env, tmp_path / "worker.log")
    try:
        def healthy():
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200 or None
            except httpx.HTTPError:
                return None

        wait_for(healthy, 60, web, tmp_path / "web.log")
        wait_for(lambda: b"learning: versions" in (tmp_path / "worker.log").read_bytes() or None, 120, worker,
                 tmp_path / "worker.log")
        drawing = pendigit_drawings(1)[0]
        body = httpx.post(f"http://127.0.0.1:{port}/api/drawings", timeout=30,
                          json={"image": drawing.data_url, "label": drawing.label}).json()
        assert body["trained"] and body["learned"]["cnn_online"] >= 1, body  # the worker line learned it
    finally:
        end(web)
        end(worker)


@pytest.mark.s3
@pytest.mark.redis
@pytest.mark.skipif(not ((ROOT / "service" / "retrain.py").exists()
                         or (ROOT / "service" / "retrain" / "__main__.py").exists()),
                    reason="the retrain line's command, python -m service.retrain, arrives with its own issue")
def test_procfile_retrain_line_runs_to_completion(heroku_env, tmp_path):
    """On a new deployment's empty store the job has no crowd to learn from: it records that and exits 0."""
    retrain = start_line("retrain", heroku_env, tmp_path / "retrain.log")
    try:
        assert retrain.wait(600) == 0, (tmp_path / "retrain.log").read_text()[-3000:]
    finally:
        end(retrain)
    assert "not retrained: 0 crowd drawings to learn from" in (tmp_path / "retrain.log").read_text()


def test_every_setting_is_in_the_operators_configuration_guide():
    """An operator finds every INKLING_* variable in docs/configuration.md (PORT and DYNO, the host's own
    names, are read through aliases)."""
    from service.core.settings import Settings

    guide = (ROOT / "docs" / "configuration.md").read_text()
    prefix = Settings.model_config.get("env_prefix", "INKLING_")
    missing = [f"{prefix}{name}".upper() for name, field in Settings.model_fields.items()
               if not isinstance(field.validation_alias, str) and f"`{prefix}{name}".upper() not in guide.upper()]
    assert not missing, f"document these in docs/configuration.md: {missing}"


def test_every_relative_link_in_the_readme_and_docs_leads_somewhere():
    """The README sends readers into docs/; a renamed or missing page breaks their way in."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue  # another site, or a heading of the same page
            path = target.split("#", 1)[0]
            if not (page.parent / path).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, broken
