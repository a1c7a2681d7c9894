"""All web page routes, gathered into one router for the plugin to mount.

Order matters: ``/dataset/new`` must be matched before ``/dataset/{name}``.
"""

from __future__ import annotations

from fastapi import APIRouter

from citydata.web import routes_api_docs, routes_dataset, routes_home, routes_publish, routes_user

router = APIRouter(include_in_schema=False)
for module in (routes_home, routes_publish, routes_user, routes_dataset, routes_api_docs):
    router.include_router(module.router)

from citydata.web import (  # noqa: E402
    routes_data,
    routes_diff,
    routes_federation,
    routes_governance,
    routes_map,
    routes_places,
)

router.include_router(routes_diff.router)
router.include_router(routes_data.router)
router.include_router(routes_governance.router)
router.include_router(routes_federation.router)
router.include_router(routes_places.router)
router.include_router(routes_map.router)
