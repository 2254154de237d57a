"""muflow_native.io.xarray: netCDF bytes and files, interchangeable with muflow's."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

xr = pytest.importorskip("xarray")
pytest.importorskip("scipy")

from muflow_native.io.xarray import (  # noqa: E402
    load_xarray_from_bytes,
    load_xarray_from_file,
    save_xarray_to_bytes,
    save_xarray_to_file,
)


@pytest.fixture
def dataset():
    return xr.Dataset(
        {
            "weights": (("row", "col"), np.arange(12.0).reshape(3, 4)),
            "counts": ("row", np.array([1, 2, 3], dtype=np.int32)),
            "with_nan": ("col", np.array([1.0, np.nan, np.inf, -np.inf])),
        },
        coords={"row": [10, 20, 30], "col": np.linspace(0, 1, 4)},
        attrs={"title": "test", "version": 3},
    )


def test_bytes_round_trip(dataset):
    data = save_xarray_to_bytes(dataset)
    assert isinstance(data, bytes) and data[:3] == b"CDF"
    assert load_xarray_from_bytes(data).identical(dataset)


def test_file_round_trip(dataset, tmp_path):
    path = str(tmp_path / "d.nc")
    save_xarray_to_file(dataset, path)
    loaded = load_xarray_from_file(path)
    assert loaded.identical(dataset)
    (tmp_path / "d.nc").unlink()  # loaded fully: no handle keeps the file


def test_default_format_is_netcdf3_classic(dataset):
    assert save_xarray_to_bytes(dataset)[:4] == b"CDF\x01"
    assert save_xarray_to_bytes(dataset, format="NETCDF3_64BIT")[:4] == b"CDF\x02"


def test_bytes_and_file_agree(dataset, tmp_path):
    path = tmp_path / "d.nc"
    save_xarray_to_file(dataset, str(path))
    assert path.read_bytes() == save_xarray_to_bytes(dataset)


def test_interchangeable_with_muflow(dataset):
    oracle = pytest.importorskip("muflow.io.xarray")
    ours = save_xarray_to_bytes(dataset)
    assert ours == oracle.save_xarray_to_bytes(dataset)
    assert oracle.load_xarray_from_bytes(ours).identical(dataset)


def test_without_xarray_package_imports_and_use_says_what_to_install(tmp_path):
    # A child interpreter in which `import xarray` fails.
    (tmp_path / "xarray.py").write_text("raise ImportError('no xarray here')\n")
    script = textwrap.dedent(
        """
        import muflow_native, muflow_native.io
        try:
            muflow_native.io.load_xarray_from_bytes(b"")
        except ImportError as exc:
            print(exc)
        """
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), *sys.path]))
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "pip install xarray" in result.stdout
