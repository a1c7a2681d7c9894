"""OGC API – Features (Parts 1, 2 and 3) and vector tiles at ``/ogc``: a thin adapter over
``citydata.geo.collections`` and ``citydata.geo.items``."""

from citydata.api.ogc.routes import router

__all__ = ["router"]
