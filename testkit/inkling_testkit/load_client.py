"""Load generation and checks shared by the load, crash and outage tests (tests/test_load_faults.py).

Everything here talks to a real service over HTTP (``inkling_testkit.live_service.LiveService``):

>>> drawings = pendigit_drawings(40)                                        # doctest: +SKIP
>>> outcomes = run_clients(base_url, 20, seconds=15, pick=mixed_workload(drawings), seed=1)  # doctest: +SKIP
>>> print(summarize(outcomes, 15))                                          # doctest: +SKIP

Every loop is bounded twice: by a deadline and by a request count.
"""

from __future__ import annotations

import base64
import functools
import io
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

DATA_URL_PREFIX = "data:image/png;base64,"
# Load from one address (every test client is 127.0.0.1): rate limits out of the way.
UNLIMITED = {"INKLING_DRAWINGS_BURST": "1000000", "INKLING_DRAWINGS_PER_MINUTE": "1000000",
             "INKLING_PREDICTIONS_BURST": "1000000", "INKLING_PREDICTIONS_PER_MINUTE": "1000000",
             "INKLING_LISTINGS_BURST": "1000000", "INKLING_LISTINGS_PER_MINUTE": "1000000"}
# Quarantine off: runs that check every drawing sent with consent is learned exactly once (curation holding
# one back for review is tests/test_curation.py's business; an honest drawing is held now and then).
EVERY_DRAWING_LEARNED = {"INKLING_QUARANTINE_ABOVE": "1"}
# The admin token with which the checks see every drawing, those sent without consent too.
ADMIN_TOKEN = "load-tests-admin-token"
ADMIN_ENV = {"INKLING_ADMIN_TOKEN": ADMIN_TOKEN}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ONLINE_MODELS = ("fnn_online", "cnn_online")


# --- drawings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Drawing:
    png: bytes
    label: int

    @property
    def data_url(self) -> str:
        return DATA_URL_PREFIX + base64.b64encode(self.png).decode()


@functools.lru_cache(maxsize=4)
def pendigit_drawings(count: int, split: str = "test") -> tuple[Drawing, ...]:
    """``count`` pen-drawn digits rendered as the page would send them, labels cycling through 0-9."""
    from lab.data import load_pendigits
    from lab.render import render_pendigit

    digits = load_pendigits(split)
    # Spread over all writers: every 7th digit, so a small sample is not one writer's hand.
    picked = [digits[(i * 7) % len(digits)] for i in range(count)]
    return tuple(Drawing(render_pendigit(d), int(d.label)) for d in picked)


# --- one request ------------------------------------------------------------------------


@dataclass
class Outcome:
    """One request: what was sent and what came back (``status`` None = no HTTP answer at all)."""

    kind: str  # "predict" or "drawing"
    started: float  # time.monotonic()
    seconds: float
    status: int | None
    drawing: Drawing | None = None
    train: bool | None = None
    body: dict | None = None
    headers: dict = field(default_factory=dict)
    error: str | None = None

    @property
    def drawing_id(self) -> str | None:
        return (self.body or {}).get("id") if self.status == 201 else None


def _json_or_none(response: httpx.Response) -> dict | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def request(client: httpx.Client, kind: str, drawing: Drawing, train: bool | None = None) -> Outcome:
    """POST one predict or drawing; transport errors become an Outcome with ``status=None``."""
    if kind == "predict":
        path, payload = "/api/predict", {"image": drawing.data_url}
    else:
        path, payload = "/api/drawings", {"image": drawing.data_url, "label": drawing.label, "train": bool(train)}
    started = time.monotonic()
    try:
        response = client.post(path, json=payload)
    except httpx.HTTPError as exc:
        return Outcome(kind, started, time.monotonic() - started, None, drawing, train, error=repr(exc))
    return Outcome(kind, started, time.monotonic() - started, response.status_code, drawing, train,
                   _json_or_none(response), dict(response.headers))


def mixed_workload(drawings: Iterable[Drawing], drawing_share: float = 0.2, train_share: float = 0.75):
    """A picker for :func:`run_clients`: mostly predictions; ``drawing_share`` drawings, ``train_share`` of them trained."""
    drawings = list(drawings)

    def pick(rng: random.Random) -> tuple[str, Drawing, bool | None]:
        drawing = rng.choice(drawings)
        if rng.random() < drawing_share:
            return "drawing", drawing, rng.random() < train_share
        return "predict", drawing, None

    return pick


class Tally:
    """A thread-safe count of outcomes matching ``predicate``, to wait on from the test's thread."""

    def __init__(self, predicate: Callable[[Outcome], bool]):
        self.predicate, self.count = predicate, 0
        self._changed = threading.Condition()

    def __call__(self, outcome: Outcome) -> None:
        if self.predicate(outcome):
            with self._changed:
                self.count += 1
                self._changed.notify_all()

    def wait_for(self, count: int, timeout: float) -> bool:
        """True once ``count`` matching outcomes were seen; False after ``timeout`` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: self.count >= count, timeout)


def drawings_only(drawings: Iterable[Drawing], train_share: float = 0.8):
    drawings = list(drawings)

    def pick(rng: random.Random) -> tuple[str, Drawing, bool | None]:
        return "drawing", rng.choice(drawings), rng.random() < train_share

    return pick


# --- many clients -----------------------------------------------------------------------


def run_clients(base_url: str, clients: int, *, seconds: float, pick: Callable, seed: int,
                stop: threading.Event | None = None, max_requests: int = 20_000, timeout: float = 60.0,
                stop_on_transport_error: bool = False, on_outcome: Callable[[Outcome], None] | None = None,
                ) -> list[Outcome]:
    """``clients`` threads, each with its own connection pool and seeded RNG, sending requests chosen by
    ``pick(rng)`` until ``seconds`` pass, ``stop`` is set, or ``max_requests`` per client were sent.

    ``stop_on_transport_error``: a client stops at its first request with no HTTP answer (the server was
    killed); otherwise it records the error and carries on. ``on_outcome`` sees each outcome as it happens
    (from the client threads).
    """
    stop = stop or threading.Event()
    deadline = time.monotonic() + seconds

    def one_client(index: int) -> list[Outcome]:
        rng = random.Random(seed * 1000 + index)
        outcomes: list[Outcome] = []
        with httpx.Client(base_url=base_url, timeout=timeout) as client:
            for _ in range(max_requests):
                if stop.is_set() or time.monotonic() >= deadline:
                    break
                kind, drawing, train = pick(rng)
                outcome = request(client, kind, drawing, train)
                outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)
                if outcome.status is None and stop_on_transport_error:
                    break
        return outcomes

    with ThreadPoolExecutor(clients, thread_name_prefix="load-client") as pool:
        return [o for per_client in pool.map(one_client, range(clients)) for o in per_client]


# --- reporting ----------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summarize(outcomes: list[Outcome], seconds: float) -> str:
    lines = [f"{len(outcomes)} requests in {seconds:.1f} s = {len(outcomes) / max(seconds, 1e-9):.1f} req/s"]
    for kind in sorted({o.kind for o in outcomes}):
        mine = [o for o in outcomes if o.kind == kind]
        times = [o.seconds * 1000 for o in mine if o.status is not None]
        statuses: dict = {}
        for o in mine:
            statuses[o.status] = statuses.get(o.status, 0) + 1
        lines.append(f"  {kind:8s} n={len(mine):5d} p50={percentile(times, 50):7.1f} ms "
                     f"p99={percentile(times, 99):7.1f} ms max={max(times, default=0):7.1f} ms statuses={statuses}")
    return "\n".join(lines)


# --- reading the service ------------------------------------------------------------------


def metric_value(text: str, name: str, labels: dict[str, str] | None = None) -> float:
    """A sample's value from Prometheus text; 0.0 if the sample is absent (counters start absent)."""
    label_text = ",".join(f'{k}="{v}"' for k, v in sorted((labels or {}).items()))
    pattern = re.escape(name) + (r"\{" + re.escape(label_text) + r"\}" if label_text else "") + r" (\S+)$"
    for line in text.splitlines():
        if m := re.match(pattern, line):
            return float(m.group(1))
    return 0.0


def learn_steps(client: httpx.Client) -> dict[str, float]:
    text = client.get("/metrics").text
    return {m: metric_value(text, "inkling_learn_steps_total", {"model": m}) for m in ONLINE_MODELS}


def healthz_versions(client: httpx.Client) -> dict[str, int]:
    response = client.get("/healthz")
    assert response.status_code == 200, response.text
    return response.json()["versions"]


def list_all_drawings(client: httpx.Client, max_pages: int = 500) -> dict[str, dict]:
    """Every drawing the API lists to the admin, by id (follows ``next_cursor``; bounded)."""
    items: dict[str, dict] = {}
    cursor = None
    for _ in range(max_pages):
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        response = client.get("/api/drawings", params=params, headers=ADMIN)
        assert response.status_code == 200, response.text
        page = response.json()
        for item in page["items"]:
            assert item["id"] not in items, f"drawing {item['id']} listed twice"
            items[item["id"]] = item
        cursor = page["next_cursor"]
        if not cursor:
            return items
    raise AssertionError(f"more than {max_pages} pages of drawings")


def assert_accepted_drawings_intact(client: httpx.Client, accepted: list[Outcome]) -> dict[str, dict]:
    """Every drawing that got 201 is listed with its label and train flag, and its PNG has the pixels sent.

    Returns the listing (id -> item) for further checks.
    """
    listed = list_all_drawings(client)
    problems = []
    for outcome in accepted:
        drawing_id = outcome.drawing_id
        assert drawing_id, outcome
        item = listed.get(drawing_id)
        if item is None:
            problems.append(f"{drawing_id}: answered 201 but not listed")
            continue
        if (item["label"], item["train"]) != (outcome.drawing.label, outcome.train):
            problems.append(f"{drawing_id}: listed as label {item['label']} train {item['train']}, "
                            f"sent {outcome.drawing.label} train {outcome.train}")
        png = client.get(f"/api/drawings/{drawing_id}.png", headers=ADMIN)
        if png.status_code != 200 or not same_pixels(png.content, outcome.drawing.png):
            problems.append(f"{drawing_id}: PNG answered {png.status_code} with {len(png.content)} bytes, "
                            f"not the pixels of the {len(outcome.drawing.png)} bytes sent")
    assert not problems, f"{len(problems)} of {len(accepted)} accepted drawings damaged:\n" + "\n".join(problems[:20])
    return listed


def same_pixels(png: bytes, sent: bytes) -> bool:
    """Whether two PNGs hold the same image (the service re-encodes what it stores)."""
    from PIL import Image

    stored, original = (Image.open(io.BytesIO(b)) for b in (png, sent))
    return stored.size == original.size and stored.convert("RGBA").tobytes() == original.convert("RGBA").tobytes()


def assert_learned_exactly_once(store, ids: set[str], timeout: float = 60.0) -> dict[str, list]:
    """Wait until every online model's versions hold each of ``ids``, then check none is held twice and
    nothing else is; the versions are gapless and their steps count the drawings. Returns the histories."""
    deadline = time.monotonic() + timeout
    while True:
        histories = {m: store.history(m) for m in ONLINE_MODELS}
        learned = {m: [d for r in h for d in r.drawings] for m, h in histories.items()}
        if all(ids <= set(ds) for ds in learned.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    for model, drawings in learned.items():
        missing = ids - set(drawings)
        assert not missing, f"{model}: {len(missing)} of {len(ids)} drawings never learned"
        twice = [d for d, n in Counter(drawings).items() if n > 1]
        assert not twice, f"{model}: learned twice: {twice[:5]}"
        assert set(drawings) == ids, f"{model}: learned drawings nobody sent with consent"
        history = histories[model]
        assert [r.version for r in history] == list(range(1, len(history) + 1)), model
        assert history[-1].steps == len(ids), model
    return histories
