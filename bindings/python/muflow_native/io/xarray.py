"""xarray Datasets to and from netCDF bytes and files (scipy engine, NETCDF3_CLASSIC
by default, as muflow writes them).

xarray is optional for muflow_native: it is imported on first use, and a missing
xarray raises an ImportError that says what to install.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import xarray as xr


def _xarray():
    try:
        import xarray
    except ImportError as exc:
        raise ImportError(
            "muflow_native.io.xarray needs xarray (and scipy for the default "
            "engine): pip install xarray scipy"
        ) from exc
    return xarray


def save_xarray_to_bytes(
    dataset: "xr.Dataset", format: str = "NETCDF3_CLASSIC", engine: str = "scipy"
) -> bytes:
    """The netCDF encoding of ``dataset``."""
    _xarray()
    buffer = io.BytesIO()
    dataset.to_netcdf(buffer, format=format, engine=engine)
    return buffer.getvalue()


def load_xarray_from_bytes(data: bytes, engine: str = "scipy") -> "xr.Dataset":
    """The Dataset encoded in ``data``, loaded fully into memory."""
    return _xarray().load_dataset(io.BytesIO(data), engine=engine)


def save_xarray_to_file(
    dataset: "xr.Dataset", path: str, format: str = "NETCDF3_CLASSIC", engine: str = "scipy"
) -> None:
    """Writes ``dataset`` to ``path`` as netCDF."""
    _xarray()
    dataset.to_netcdf(path, format=format, engine=engine)


def load_xarray_from_file(path: str, engine: str = "scipy") -> "xr.Dataset":
    """The Dataset in the netCDF file ``path``, loaded fully into memory (the file is
    closed on return)."""
    return _xarray().load_dataset(path, engine=engine)
