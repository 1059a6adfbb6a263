"""``--http service.edge:GuardedHttpToolsProtocol``: uvicorn's protocol with read timeouts (:mod:`service.web.edge`)."""

from service.web.edge import SERVER_ARGS, GuardedHttpToolsProtocol

__all__ = ["SERVER_ARGS", "GuardedHttpToolsProtocol"]
