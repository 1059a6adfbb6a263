"""The HTTP API, one module a area; each route is thin and calls plain modules of :mod:`service.web`."""

from . import admin, learn, models, operations, promotions, recognise, you

ROUTERS = (recognise.router, learn.router, you.router, models.router, promotions.router, admin.router,
           operations.router)
