# Inkling: the service with its committed weights baked in; local storage by default,
# S3 when INKLING_STORAGE=s3 (credentials from the standard AWS environment/role chain).
# The default command serves (and, with no INKLING_ROLE/INKLING_QUEUE_URL, learns too). Scale-out:
#   docker run -e INKLING_ROLE=web -e INKLING_QUEUE_URL=redis://... IMAGE            (any number)
#   docker run --no-healthcheck -e INKLING_QUEUE_URL=redis://... IMAGE python -m service.learner  (exactly one)
# A web-only image, without TensorFlow (~600 MB smaller; it can only run INKLING_ROLE=web):
#   docker build --build-arg EXTRAS= -t inkling-web .
FROM python:3.11-slim
ARG EXTRAS=learner

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    INKLING_DATA_DIR=/data TF_CPP_MIN_LOG_LEVEL=2
WORKDIR /app

# Dependencies first, so code changes do not reinstall TensorFlow.
COPY pyproject.toml README.md ./
RUN mkdir -p models service && touch models/__init__.py service/__init__.py \
    && pip install ".${EXTRAS:+[$EXTRAS]}" && pip uninstall -y inkling && rm -rf models service

COPY models ./models
COPY service ./service
COPY frontend ./frontend

RUN useradd --system --uid 10001 --home /app inkling && mkdir -p /data && chown inkling /data
USER inkling
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"

# Header and body read timeouts and a bound on connections (service/web/edge.py): slow clients cannot hold it.
CMD ["uvicorn", "service.app:app", "--host", "0.0.0.0", "--port", "8000", \
     "--http", "service.edge:GuardedHttpToolsProtocol", "--limit-concurrency", "500"]
