"""citydata: an open city data platform (London first).

Public API: ``Settings``, ``Platform`` and ``create_app``.
"""

from citydata.settings import Settings

__all__ = ["Settings", "Platform", "create_app", "__version__"]
__version__ = "0.1.0"


def __getattr__(name: str):  # lazy: importing the package must not pull in FastAPI
    if name == "Platform":
        from citydata.platform import Platform

        return Platform
    if name == "create_app":
        from citydata.app import create_app

        return create_app
    raise AttributeError(name)
