"""The real service and the real servers it needs, started on 127.0.0.1 for tests and benchmarks.

:mod:`.live_service` (the service or its learner in a subprocess), :mod:`.redis_server`
(Debian's ``redis-server``), :mod:`.seaweedfs` (an S3 server), :mod:`.load_client`
(load generation and checks over HTTP) and :mod:`.processes` (CPU and memory from ``/proc``).

A distribution of its own (``testkit/pyproject.toml``), installed by ``scripts/install --dev`` beside
the service, so tests and the scripts in ``scripts/`` import it as they import the service, while
production installs and images never carry it. Nothing in the service imports it.
"""
