"""The HTTP API, one module a area; each route is thin and calls plain modules of :mod:`service.web`."""

from . import admin, learn, models, operations, recognise, you

ROUTERS = (recognise.router, learn.router, you.router, models.router, admin.router, operations.router)
