"""All configuration, in one typed object read from ``INKLING_*`` environment variables.

>>> Settings(storage="local", data_dir="/tmp/inkling").storage
'local'
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.alphabets import load_alphabet

from .promotions import Rules

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MIN_ADMIN_TOKEN = 16


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INKLING_", extra="ignore")

    alphabet: str = Field("digits", description="What this deployment recognises: a shipped alphabet (digits, "
                                                 "hiragana) or the path of an alphabet file (models/alphabets.py).")
    role: Literal["all", "web"] = Field(
        "all", description="all: serve and learn in this process (the default); web: serve and enqueue, never "
                           "learn (run `python -m service.learner` once per deployment).")
    queue_url: SecretStr | None = Field(
        None, description="redis://host:port/db of the learn queue (scale-out); unset = in-process queue.")
    queue_tls_verify: bool = Field(True, description="Check the certificate of a rediss:// queue. Heroku's "
                                                    "Key-Value Store presents a self-signed one: false there (the "
                                                    "connection is still encrypted).")
    queue_name: str = Field("inkling", pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
                            description="Prefix of the Redis keys (stream, channel, rate limits).")
    storage: Literal["local", "s3"] = Field("local", description="Where drawings and online weights live.")
    data_dir: Path = Field(PROJECT_ROOT / "data", description="Folder for the local store.")
    s3_bucket: str | None = Field(None, description="Bucket for the S3 store (required when storage=s3).")
    s3_prefix: str = Field("inkling", description="Key prefix inside the bucket.")
    s3_endpoint_url: str | None = Field(None, description="S3-compatible endpoint (SeaweedFS, MinIO); None = AWS.")
    s3_region: str | None = Field(None, description="Region; None = the boto3 default chain.")
    s3_timeout_s: float = Field(3.0, gt=0, description="Connect/read timeout so an S3 outage fails fast.")
    admin_token: SecretStr | None = Field(None, description="Bearer token for admin routes, at least 16 characters; "
                                                            "unset = admin routes disabled. Its name is 'admin'.")
    admin_tokens: SecretStr | None = Field(None, description="Named admin tokens, 'name:token,name:token' (each "
                                                             "token at least 16 characters): reviews and the audit "
                                                             "log name who did what.")
    quarantine_above: float = Field(0.9, gt=0, le=1, description="A labelled drawing whose suspicion (0-1) passes "
                                                                 "this is stored but held out of learning, replay, "
                                                                 "memories and exports until a reviewer decides "
                                                                 "(and so are the rest of a writer's drawings once "
                                                                 "most of their labels are suspicious); 1: never.")
    client_salt: SecretStr | None = Field(None, description="Salt for hashing client addresses; unset = random per process.")
    trusted_proxies: int = Field(0, ge=0, le=10, description="Proxies in front of the service that append the "
                                                             "address they saw to X-Forwarded-For (a Heroku router, "
                                                             "or nginx: 1); the client is that many entries from the "
                                                             "right. 0: the connection's own address.")
    trust_forwarded_for: bool = Field(False, description="Deprecated: true means INKLING_TRUSTED_PROXIES=1.")
    allow_ephemeral: bool = Field(False, description="Allow the local store on a filesystem a restart wipes "
                                                     "(a Heroku dyno), losing every drawing and version.")
    dyno: str | None = Field(None, validation_alias="DYNO", description="Set by Heroku on its dynos.")
    port: str | None = Field(None, validation_alias="PORT", description="Set by PaaS hosts (Heroku, Render, ...).")

    api_docs: bool = Field(False, description="Serve the API's documentation pages, /docs and /redoc (from this "
                                              "worker, no CDN); off by default: they run on the page's origin. The "
                                              "schema is at /openapi.json either way.")

    max_body_bytes: int = Field(1_000_000, gt=0, description="Larger request bodies get 413.")
    # With service.edge's protocol (the Procfile's and Dockerfile's command): the page's requests
    # arrive in milliseconds; a 1 MB body over a slow phone link in a few seconds.
    header_timeout_seconds: float = Field(10, gt=0, description="A request's headers must arrive within this.")
    body_timeout_seconds: float = Field(30, gt=0, description="A request's body must arrive within this of its "
                                                               "headers.")
    # A browser's first bytes follow its connection at once; a socket that says nothing holds a place in
    # --limit-concurrency until it is closed.
    first_byte_timeout_seconds: float = Field(2, gt=0, description="A connection that sends nothing within this "
                                                                    "is closed (408).")
    # A browser's request head is well under 8 KiB; nginx's default buffers hold 8 KiB, 32 KiB at most.
    max_header_bytes: int = Field(32 * 1024, ge=1024, description="A request's head (request line and headers) may "
                                                                 "be this large; past it, 431.")
    max_connections_per_client: int = Field(32, ge=0, description="Connections one client address (an IPv6 /64) "
                                                                  "may hold open to a worker; past it, 429 (0: no "
                                                                  "cap; off behind INKLING_TRUSTED_PROXIES).")
    max_stored_drawing_bytes: int = Field(64 * 1024, ge=4096, description="A drawing is stored as an 8-bit gray "
                                                                      "PNG of at most twice the canvas a side and "
                                                                      "at most this many bytes (halved until it "
                                                                      "fits).")
    drawings_per_minute: float = Field(30, gt=0, description="Per-client rate of POST /api/drawings.")
    drawings_burst: int = Field(10, gt=0, description="Drawings a client may send at once before the rate applies.")
    # The page asks for a prediction and the feature maps after each stroke: a quick writer makes ~4
    # requests a second while drawing, then pauses. The limit stops floods, not drawing.
    predictions_per_minute: float = Field(600, gt=0, description="Per-client rate of POST /api/predict and "
                                                                 "/api/activations, per worker process.")
    predictions_burst: int = Field(120, gt=0, description="Predictions a client may ask for at once.")

    # The gallery asks for a page of 24 as a person scrolls; each page is up to 200 record reads.
    listings_per_minute: float = Field(60, gt=0, description="Per-client rate of GET /api/drawings, per worker "
                                                             "process.")
    listings_burst: int = Field(20, gt=0, description="Pages of drawings a client may ask for at once.")

    # Chosen with scripts/learn_from_users.py: the CNN at 0.03 halves a new writer's errors
    # after 5 drawings of each digit while MNIST accuracy stays within 0.2 point.
    fnn_online_lr: float = Field(0.02, gt=0, description="Learning rate of the FNN's online steps.")
    cnn_online_lr: float = Field(0.03, gt=0, description="Learning rate of the CNN's online steps.")
    inference_threads: int = Field(2, ge=0, description="Threads that decode, preprocess and run the models for "
                                                        "requests (per worker process).")
    tf_threads: int = Field(1, ge=0, description="TensorFlow threads per operation; 0 = its default (all cores).")
    learner_threads: int = Field(2, ge=0, description="TensorFlow threads per operation in `python -m "
                                                      "service.learner` (0 = all cores): one step is one big "
                                                      "operation (augmentation runs beside it on a thread).")
    learn_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto", description="What the CNN's online steps compute in: bfloat16 (float32 weights) takes 40% less "
                            "CPU where the CPU has it; auto = bfloat16 on AVX512-BF16 or AMX, else float32.")
    replay_base: int = Field(16, ge=0, validation_alias=AliasChoices("replay_base", "INKLING_REPLAY_BASE",
                                                                    "INKLING_REPLAY_MNIST"),
                             description="Images of the alphabet's own sample (MNIST's, for the digits) mixed "
                                         "into each learning step. INKLING_REPLAY_MNIST, its first name, works too.")
    replay_drawings: int = Field(8, ge=0, description="Earlier stored drawings mixed into each step.")
    guard_every: int = Field(10, gt=0, description="Evaluate online models on the holdout every N steps.")
    guard_min_seconds: float = Field(1.0, ge=0, description="...but at most once this often, unless a batch holds "
                                                            "an implausible label (a holdout pass costs ~7 steps).")
    guard_tolerance: float = Field(0.01, ge=0, description="Roll back when holdout accuracy falls this far below the original.")
    keep_versions: int = Field(50, ge=2, description="Weight versions kept besides the known-good ones.")
    prune_every: int = Field(10, ge=1, description="Prune old weights after every this many versions.")
    prune_grace_seconds: float = Field(3600, ge=0, description="Weights no kept version names are deleted only "
                                                               "once this old (a publish may be under way).")
    refresh_seconds: float = Field(2.0, gt=0, description="How often to look for new versions without an announcement.")

    # Group commit, chosen with scripts/bench_scaleout.py: see docs/performance.md, "Learning throughput".
    learn_batch_max: int = Field(32, ge=1, description="Most drawings learned into one published version.")
    # 1 s, not 0.5: under a backlog, half the versions to write, fetch and check. Measured with 2 web workers
    # on the learner's 2 cores at 32 drawings/s offered: 30.8-31.2 learned/s, lag p99 1.3 s, against
    # 26.7-27.6/s and 3.1-3.3 s; when the learner keeps up, batches are short and it changes nothing.
    learn_batch_seconds: float = Field(1.0, gt=0, description="Most time spent stepping before a batch is published.")
    max_backlog: int = Field(200, ge=0, description="Past this many queued drawings, POST /api/drawings answers "
                                                    "at once that the drawing is queued.")
    # ~1 KB of Redis a drawing (1,022 bytes, MEMORY USAGE): 20,000 is ~20 MB, ~10 minutes of a learner's work.
    queue_max_drawings: int = Field(20_000, ge=1, description="Most drawings in the learn queue (a hard bound, "
                                                              "sized to Redis's memory at ~1 KB each); past it "
                                                              "drawings are stored and enqueued later by the "
                                                              "learner's reconciliation.")
    wait_seconds: float = Field(2.0, ge=0, description="How long POST /api/drawings waits for the version that "
                                                       "learned the drawing (wait: true).")
    reconcile_seconds: float = Field(60.0, gt=0, description="How often the learner looks for stored drawings "
                                                             "the queue lost, and how old they must be.")

    # Writers' own memories (service.core.writers, models.prototypes): see docs/learning-from-users.md, "Your handwriting".
    memory_size: int = Field(200, ge=1, le=1000, description="Newest drawings a writer's memory keeps.")
    memory_cache_writers: int = Field(2000, ge=0, description="Writers' memories a worker keeps in memory (~6 KB "
                                                              "each).")
    memory_ttl_seconds: float = Field(60.0, ge=0, description="A cached memory is read again after this long, "
                                                              "in case another worker's announcement was missed.")
    memory_expire_days: float = Field(0, ge=0, description="Forget a writer's memory this many days after its last "
                                                          "drawing (the learner looks every hour); 0 = never (a "
                                                          "writer forgets with DELETE /api/me).")

    # Promotions (service.core.promotions): what a retrained original must show to replace the one served.
    promotion_p_below: float = Field(0.05, gt=0, le=1, description="McNemar's p on the crowd's drawings after the "
                                                                   "cut-off must be below this.")
    promotion_min_drawings: int = Field(200, ge=1, description="Fewest crowd drawings after the cut-off to judge on.")
    promotion_holdout_drop: float = Field(0.002, ge=0, description="Most a challenger may lose on the alphabet's "
                                                                   "holdout (0.002: 0.2 points).")
    promotion_writer_min: int = Field(20, ge=1, description="Writers with at least this many drawings after the "
                                                            "cut-off are compared one by one...")
    promotion_writer_drop: float = Field(0.01, ge=0, description="...and none may lose more than this (0.01: 1 point).")

    # --- the retrain job (python -m service.retrain; docs/retrain.md) ---------------------------- begin
    retrain_held_out_share: float = Field(0.25, gt=0, lt=1, description="Share of the crowd's learnable drawings, "
                                                                        "the newest, held out to judge a challenger "
                                                                        "(at least INKLING_PROMOTION_MIN_DRAWINGS) "
                                                                        "when no --cutoff is given.")
    retrain_crowd_weight: int = Field(8, ge=1, le=1000, description="Times each crowd drawing appears in a "
                                                                   "retraining epoch (each time distorted afresh) "
                                                                   "beside the base data's images, once each.")
    retrain_reviewed_weight: int = Field(16, ge=1, le=1000, description="...and each drawing a reviewer accepted "
                                                                       "or relabelled.")
    retrain_max_minutes: float = Field(120, gt=0, description="A retrain run trains at most this long (then it "
                                                              "checkpoints and stops; run it again to resume); "
                                                              "--max-minutes overrides it.")
    retrain_seed: int = Field(0, ge=0, description="Seed of a retrain run (initial weights, order, distortions).")
    retrain_threads: int = Field(0, ge=0, description="TensorFlow threads per operation in the retrain job "
                                                      "(0 = all cores).")
    retrain_base_limit: int = Field(0, ge=0, description="Train on this many of the base data's images (a "
                                                         "seeded choice; 0 = all): quick tries and tests only.")
    # --- the retrain job ---------------------------------------------------------------------------- end

    def promotion_rules(self) -> Rules:
        return Rules(self.promotion_p_below, self.promotion_min_drawings, self.promotion_holdout_drop,
                     self.promotion_writer_min, self.promotion_writer_drop)

    @field_validator("alphabet")
    @classmethod
    def _known_alphabet(cls, value: str) -> str:
        load_alphabet(value)  # ValueError names the choices
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "Settings":
        if self.storage == "s3" and not self.s3_bucket:
            raise ValueError("INKLING_S3_BUCKET must be set when INKLING_STORAGE=s3")
        if self.role == "web" and not self.queue_url:
            raise ValueError("INKLING_ROLE=web needs INKLING_QUEUE_URL (redis://...): a web worker only "
                             "enqueues drawings, and the learner reads them from that queue")
        if self.admin_token is not None and len(self.admin_token.get_secret_value()) < MIN_ADMIN_TOKEN:
            raise ValueError(
                f"INKLING_ADMIN_TOKEN is set but has {len(self.admin_token.get_secret_value())} characters: use at "
                f"least {MIN_ADMIN_TOKEN} random ones (python -c 'import secrets; print(secrets.token_urlsafe(24))'), "
                "or unset it to disable the admin routes")
        self.admins()  # ValueError names what is wrong with INKLING_ADMIN_TOKENS
        if self.dyno and self.storage == "local" and not self.allow_ephemeral:
            raise ValueError(
                f"INKLING_STORAGE=local on a Heroku dyno ({self.dyno}): its filesystem is wiped at every restart, "
                "with every drawing and weight version on it. Configure S3 (INKLING_STORAGE=s3, INKLING_S3_BUCKET, "
                "AWS credentials), or set INKLING_ALLOW_EPHEMERAL=true if losing them is fine (a demo)")
        if self.trust_forwarded_for and not self.trusted_proxies:
            self.trusted_proxies = 1
        return self

    def admins(self) -> dict[str, str]:
        """The admin tokens by their holders' names: INKLING_ADMIN_TOKENS, and INKLING_ADMIN_TOKEN as "admin".

        >>> Settings(admin_tokens="ana:" + "a" * 16 + ", bo:" + "b" * 20).admins() == {"ana": "a" * 16, "bo": "b" * 20}
        True
        """
        named = {"admin": self.admin_token.get_secret_value()} if self.admin_token else {}
        for entry in (self.admin_tokens.get_secret_value().split(",") if self.admin_tokens else ()):
            name, _, token = entry.strip().partition(":")
            if not re.fullmatch(r"[A-Za-z0-9_.-]{1,32}", name) or len(token) < MIN_ADMIN_TOKEN or name in named:
                raise ValueError("INKLING_ADMIN_TOKENS must be name:token pairs separated by commas, each name "
                                 f"unique (1-32 of A-Z a-z 0-9 _ . -) and each token at least {MIN_ADMIN_TOKEN} "
                                 "characters")
            named[name] = token
        return named

    def queue_address(self) -> str | None:
        """The learn queue's URL as clients connect to it; None for the in-process queue.

        >>> Settings(queue_url="rediss://:pw@host:6379", queue_tls_verify=False).queue_address()
        'rediss://:pw@host:6379?ssl_cert_reqs=none'
        >>> Settings(queue_url="rediss://:pw@host:6379").queue_address()
        'rediss://:pw@host:6379'
        """
        if not self.queue_url:
            return None
        url = self.queue_url.get_secret_value()
        if not self.queue_tls_verify and url.startswith("rediss://") and "ssl_cert_reqs=" not in url:
            url += ("&" if "?" in url else "?") + "ssl_cert_reqs=none"
        return url

    @property
    def on_paas(self) -> bool:
        return bool(self.dyno or self.port)


def load_settings() -> Settings:
    """The settings from the environment; a configuration slip stops the process with one clear line, not a
    traceback."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SystemExit("inkling will not start: " + "; ".join(e["msg"].removeprefix("Value error, ")
                                                                for e in exc.errors())) from None
