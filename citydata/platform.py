"""The Platform: one object holding what every layer needs (settings, database, files, plugins).

Built once per process by the CLI, the ASGI factory or a test, and passed down explicitly.
"""

from __future__ import annotations

from functools import cached_property

from citydata.settings import Settings
from citydata.storage.database import Database
from citydata.storage.files import FileStore


class Platform:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.settings.home.mkdir(parents=True, exist_ok=True)
        self.db = Database(self.settings.database_url)
        self.files = FileStore(self.settings.files_dir, remote=self.settings.object_store(),
                               cache_max_bytes=self.settings.files_cache_max_bytes)
        from citydata.datastore.pool import readers

        readers.resize(self.settings.datastore_pool_size)

    @cached_property
    def plugins(self):
        from citydata.plugins import get_plugin_manager

        return get_plugin_manager()

    def close(self) -> None:
        self.db.dispose()
