"""The real service and the real servers it needs, started on 127.0.0.1 for tests and benchmarks.

:mod:`.live_service` (the service or its learner in a subprocess), :mod:`.redis_server`
(Debian's ``redis-server``), :mod:`.seaweedfs` (an S3 server), :mod:`.load_client`
(load generation and checks over HTTP) and :mod:`.processes` (CPU and memory from ``/proc``). Installed with the package so the scripts in
``scripts/`` import them as they import the service; nothing in the service imports them.
"""
