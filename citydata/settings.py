"""Typed settings, read from the environment with the ``CITYDATA_`` prefix.

Settings are built once by the caller (CLI, ASGI factory, tests) and passed into
``create_app`` / ``Platform``; nothing reads the environment at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from citydata.storage.objects import S3Objects

#: Secrets that must never be used outside development.
PLACEHOLDER_SECRETS = {
    "",
    "changeme",
    "change-me",
    "secret",
    "dev-secret-change-me",
    "please-change",
}
DEV_SECRET = "dev-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITYDATA_", extra="ignore")

    env: Literal["dev", "test", "production"] = "dev"
    home: Path = Path("var")
    database_url: str = ""
    secret_key: str = DEV_SECRET
    site_url: str = "http://127.0.0.1:8000"
    site_title: str = "London City Data"
    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_bytes: int = Field(default=512 * 1024 * 1024, ge=1)
    #: Rows shown in the preview of a tabular resource on its dataset page.
    preview_rows: int = Field(default=10, ge=1, le=100)
    #: Directory holding npm front-end packages (node_modules) installed at setup.
    node_modules: Path = Path("node_modules")
    #: Load every GB postcode ("gb") or only London's ("london") into the gazetteer.
    postcodes: Literal["gb", "london", "none"] = "gb"
    #: Where notification e-mail goes: smtp://user:pass@host:port (empty: console in dev).
    smtp_url: str = ""
    mail_from: str = "citydata <noreply@citydata.invalid>"
    #: Sign-in throttling: failures allowed per user name and per client address per window.
    login_max_failures: int = Field(default=5, ge=1)
    login_max_failures_per_client: int = Field(default=30, ge=1)
    login_window_minutes: int = Field(default=15, ge=1)
    #: Background jobs in the server process: agreement expiry sweep, e-mail, signed audit
    #: checkpoints (when a node key exists). 0 turns the loop off.
    jobs_interval_seconds: float = Field(default=30.0, ge=0)
    audit_checkpoint_minutes: float = Field(default=60.0, gt=0)
    #: A download or export of governed data re-asks the policy this often while it streams.
    stream_recheck_seconds: float = Field(default=1.0, ge=0)
    #: Datastore: queries stop after this many seconds; SQL results are capped at this many rows.
    query_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    sql_row_cap: int = Field(default=32000, ge=1, le=1_000_000)
    #: Stored files in S3-compatible object storage (empty bucket: the local disk only). The
    #: local file store is then a cache, trimmed by ``citydata gc`` to ``files_cache_max_bytes``
    #: (0: no limit). Credentials: the usual AWS_* environment / profile / instance role.
    files_s3_bucket: str = Field(default="", pattern=r"^([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])?$")
    files_s3_prefix: str = Field(default="", max_length=200)
    files_s3_endpoint_url: str = Field(default="", pattern=r"^(https?://\S+)?$")
    files_s3_region: str = Field(default="", max_length=50)
    files_cache_max_bytes: int = Field(default=0, ge=0)
    #: Datastore: locked-down DuckDB databases each server process keeps open, one per
    #: snapshot recently queried (about 4 MiB each; 0: open one per query). See pool.py.
    datastore_pool_size: int = Field(default=64, ge=0, le=10_000)
    #: Anonymous responses each server process keeps (citydata/ops/response_cache.py): its
    #: memory budget (0 turns the cache off) and the age after which an entry is made again
    #: even when nothing was written (what depends on the clock alone — an agreement reaching
    #: its end date, planning's "decided in the last 30 days" — is at most this late).
    response_cache_mb: int = Field(default=64, ge=0, le=65_536)
    response_cache_seconds: float = Field(default=300.0, ge=0, le=86_400)
    #: Maps: a raster tile URL template for the basemap in production, e.g.
    #: https://tile.openstreetmap.org/{z}/{x}/{y}.png (empty: the borough boundaries from the
    #: reference data, which need no internet), and the attribution its licence asks for.
    basemap_tiles: str = ""
    basemap_attribution: str = ""
    #: Federation: this node's name among the nodes it works with (lowercase, e.g.
    #: "camden"); signed requests between nodes must be this many seconds fresh.
    node_name: str = Field(default="", pattern=r"^([a-z0-9][a-z0-9-]{1,62})?$")
    federation_window_seconds: int = Field(default=300, ge=10, le=3600)
    #: Live federated search waits this long for the nodes, then answers with what it has.
    federation_search_deadline_seconds: float = Field(default=1.5, gt=0, le=30)
    #: Harvesting: limits per response from a source, and pages per run.
    harvest_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    harvest_timeout_seconds: float = Field(default=60.0, gt=0)
    harvest_max_pages: int = Field(default=2000, ge=1)
    #: Planning Datahub: live changes the server replays per minute (demo data; 0 = off).
    planning_replay_per_minute: float = Field(default=0.0, ge=0, le=6000)
    #: Events: each process's hub re-reads the event log this often even when nothing woke it
    #: (another process writing the same SQLite file); SSE connections send a keep-alive
    #: comment after this many quiet seconds.
    events_poll_seconds: float = Field(default=1.0, gt=0)
    events_keepalive_seconds: float = Field(default=15.0, gt=0)
    #: Webhooks: each server process's dispatcher waits at most this long for new events
    #: between passes (0 turns it off there; `citydata webhooks dispatch-once` still works);
    #: each delivery gets this long in all; failed ones are retried after
    #: min(base * 2**(attempts-1), cap) seconds, and dead-lettered after max_attempts.
    webhook_interval_seconds: float = Field(default=1.0, ge=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    webhook_retry_base_seconds: float = Field(default=10.0, gt=0)
    webhook_retry_cap_seconds: float = Field(default=3600.0, gt=0)
    webhook_max_attempts: int = Field(default=8, ge=1, le=100)
    #: Deliveries in flight at once, across all subscriptions, per server process.
    webhook_max_in_flight: int = Field(default=50, ge=1, le=1000)
    #: Production refuses webhook URLs on loopback and private addresses (SSRF) unless true.
    webhook_allow_private: bool = False
    #: Production refuses harvest sources on loopback and private addresses (SSRF) unless
    #: true, checked when a source is saved and again, after resolving, at every connection.
    #: Federation nodes (sources of kind "node" and node-to-node calls) are exempt: a city's
    #: nodes may well live on a private network.
    harvest_allow_private: bool = False
    #: Log lines as JSON objects (one a line, with the request id) or as plain text; when
    #: not set, JSON in production and text elsewhere.
    log_format: Literal["text", "json"] = "text"

    @model_validator(mode="after")
    def _check(self) -> Settings:
        self.home = self.home.expanduser().resolve()
        if "log_format" not in self.model_fields_set and self.env == "production":
            self.log_format = "json"
        if not self.database_url:
            self.database_url = f"sqlite:///{self.home / 'citydata.db'}"
        if self.env == "production" and self.secret_key.strip().lower() in PLACEHOLDER_SECRETS:
            raise ValueError(
                "CITYDATA_SECRET_KEY is a placeholder; set a long random secret for production"
            )
        if self.basemap_tiles and not (
            self.basemap_tiles.startswith(("https://", "http://"))
            and all(k in self.basemap_tiles for k in ("{z}", "{x}", "{y}"))
        ):
            raise ValueError("CITYDATA_BASEMAP_TILES must be an http(s) URL template with "
                             "{z}, {x} and {y}")
        if self.env == "production" and len(self.secret_key) < 32:
            raise ValueError("CITYDATA_SECRET_KEY must be at least 32 characters in production")
        return self

    def object_store(self) -> S3Objects | None:
        """The bucket that holds the stored files, when one is configured."""
        if not self.files_s3_bucket:
            return None
        from citydata.storage.objects import S3Objects

        return S3Objects(self.files_s3_bucket, prefix=self.files_s3_prefix,
                         endpoint_url=self.files_s3_endpoint_url, region=self.files_s3_region)

    @property
    def files_dir(self) -> Path:
        return self.home / "files"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
