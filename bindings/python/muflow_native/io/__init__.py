"""I/O helpers: extended JSON, resource resolution and (optional) xarray netCDF."""

from .json import ExtendedJSONEncoder, dumps_json, loads_json
from .resources import ResourceManager, is_local_file, is_url, resolve_uri
from .xarray import (
    load_xarray_from_bytes,
    load_xarray_from_file,
    save_xarray_to_bytes,
    save_xarray_to_file,
)

__all__ = [
    "ExtendedJSONEncoder",
    "dumps_json",
    "loads_json",
    "load_xarray_from_bytes",
    "save_xarray_to_bytes",
    "load_xarray_from_file",
    "save_xarray_to_file",
    "is_url",
    "is_local_file",
    "resolve_uri",
    "ResourceManager",
]
