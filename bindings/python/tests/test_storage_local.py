"""LocalStorageBackend: muflow's rules, enforced natively, and what we add to them."""

import json
import os

import pytest

from muflow_native.storage import (
    PROTECTED_FILES,
    LocalStorageBackend,
    StorageBackend,
    compute_prefix,
    validate_filename,
    validate_writable,
)


@pytest.fixture
def storage(tmp_path):
    return LocalStorageBackend(tmp_path / "node")


@pytest.mark.parametrize("name", ["", "/abs", "../up", "a/../../up", "..", "..hidden"])
def test_bad_filenames_raise_value_error(name):
    with pytest.raises(ValueError):
        validate_filename(name)


@pytest.mark.parametrize("name", ["a.json", "sub/b.txt", "a/../b", "./c", "x..y"])
def test_good_filenames_pass(name):
    validate_filename(name)


def test_nul_byte_in_a_name_is_refused(storage):
    with pytest.raises(ValueError, match="NUL"):
        storage.save_file("a\0b", b"x")


def test_validate_writable_rules():
    assert PROTECTED_FILES == frozenset({"context.json", "manifest.json"})
    with pytest.raises(PermissionError):
        validate_writable("manifest.json", set())
    validate_writable("manifest.json", set(), allow_protected=True)
    with pytest.raises(FileExistsError):
        validate_writable("a", {"a"})


def test_storage_satisfies_the_protocol(storage):
    assert isinstance(storage, StorageBackend)


def test_write_once_and_protected_files(storage):
    storage.save_text("a.txt", "hello")
    with pytest.raises(FileExistsError):
        storage.save_text("a.txt", "again")
    for protected in PROTECTED_FILES:
        with pytest.raises(PermissionError):
            storage.save_json(protected, {})
    storage.save_json("context.json", {}, allow_protected=True)
    assert storage.read_file("a.txt") == b"hello"
    assert storage.written_files == {"a.txt", "context.json"}


def test_allowed_outputs(tmp_path):
    read_only = LocalStorageBackend(tmp_path / "ro", allowed_outputs=set())
    with pytest.raises(PermissionError, match="read-only"):
        read_only.save_text("x.txt", "x")
    restricted = LocalStorageBackend(tmp_path / "rs", allowed_outputs={"ok.json"})
    restricted.save_json("ok.json", {"a": 1})
    with pytest.raises(PermissionError, match="declared in outputs"):
        restricted.save_json("other.json", {})


def test_hash_dict_constructor_uses_the_prefix(tmp_path):
    hash_dict = {"task": "t", "x": 1}
    storage = LocalStorageBackend(tmp_path, hash_dict=hash_dict, base_prefix="base")
    assert storage.storage_prefix == str(tmp_path / compute_prefix(hash_dict, "base"))
    assert os.path.isdir(storage.storage_prefix)


def test_json_round_trip_with_special_floats(storage):
    storage.save_json("r.json", {"nan": float("nan"), "list": [1, 2.5]})
    data = storage.read_json("r.json")
    assert data["list"] == [1, 2.5]
    assert data["nan"] != data["nan"]


def test_open_file_is_read_only(storage):
    storage.save_text("a.txt", "x")
    for mode in ("w", "a", "x", "r+", "wb"):
        with pytest.raises(ValueError):
            storage.open_file("a.txt", mode)
    with storage.open_file("a.txt") as f:
        assert f.read() == "x"


def test_exists_and_missing_file(storage):
    assert not storage.exists("nope.txt")
    with pytest.raises(FileNotFoundError):
        storage.read_file("nope.txt")


def test_symlink_escape_is_refused(tmp_path, storage):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("s")
    os.symlink(outside, os.path.join(storage.storage_prefix, "link"))
    with pytest.raises(PermissionError, match="outside"):
        storage.save_text("link/evil.txt", "x")
    assert not (outside / "evil.txt").exists()
    with pytest.raises(PermissionError):
        storage.read_file("link/secret.txt")


def test_manifest_is_muflow_compatible_and_records_sizes(storage):
    assert not storage.is_cached()
    storage.save_text("b.txt", "bb")
    storage.save_file("a.bin", b"\x00" * 10)
    storage.write_manifest()
    assert storage.is_cached()
    manifest = json.loads(storage.read_file("manifest.json"))
    assert manifest["files"] == ["a.bin", "b.txt"]
    assert manifest["timestamp"].endswith("+00:00")
    assert manifest["file_sizes"] == {"a.bin": 10, "b.txt": 2}
    assert len(manifest["file_sha256"]["a.bin"]) == 64


def test_torn_file_invalidates_the_cache(storage):
    storage.save_file("data.bin", b"x" * 1000)
    storage.write_manifest()
    os.truncate(os.path.join(storage.storage_prefix, "data.bin"), 10)
    assert not storage.is_cached()


def test_a_manifest_without_sizes_is_trusted_by_presence(tmp_path):
    node = tmp_path / "node"
    node.mkdir()
    (node / "manifest.json").write_text(json.dumps({"files": [], "timestamp": "t"}))
    assert LocalStorageBackend(node).is_cached()


def test_failed_write_leaves_no_file(storage, tmp_path):
    with pytest.raises(ValueError):
        storage.save_text("../escape.txt", "x")
    assert not (tmp_path / "escape.txt").exists()
    assert not [n for n in os.listdir(storage.storage_prefix) if ".tmp-" in n]


def test_durable_storage_writes_the_same(tmp_path):
    storage = LocalStorageBackend(tmp_path / "d", durable=True)
    storage.save_text("x.txt", "x")
    storage.write_manifest()
    assert storage.is_cached()


def test_xarray_round_trip_through_storage(storage):
    xr = pytest.importorskip("xarray")
    dataset = xr.Dataset({"weights": ("x", [1.0, 2.0, 3.0])})
    storage.save_xarray("model.nc", dataset)
    assert storage.read_xarray("model.nc")["weights"].values.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(FileExistsError):
        storage.save_xarray("model.nc", dataset)
    storage.write_manifest()
    manifest = json.loads(storage.read_file("manifest.json"))
    assert manifest["files"] == ["model.nc"]
    assert manifest["file_sizes"]["model.nc"] == os.path.getsize(os.path.join(storage.storage_prefix, "model.nc"))


def test_failed_xarray_write_gives_the_name_back(storage):
    class Broken:
        def to_netcdf(self, *args, **kwargs):
            raise RuntimeError("disk full")

    with pytest.raises(Exception):
        storage.save_xarray("model.nc", Broken())
    assert "model.nc" not in storage.written_files
    storage.save_text("model.nc", "retry allowed")


def test_a_failed_path_writer_leaves_nothing(storage):
    class HalfWriter:
        def to_netcdf(self, path, *args, **kwargs):
            with open(path, "wb") as f:
                f.write(b"half")
            raise RuntimeError("crashed midway")

    with pytest.raises(Exception):
        storage.save_xarray("half.nc", HalfWriter())
    assert not storage.exists("half.nc")


def test_within_opens_a_prefix_under_a_base_it_may_not_leave(tmp_path):
    storage = LocalStorageBackend.within(tmp_path, "muflow/task/0123")
    storage.save_text("a.txt", "x")
    assert (tmp_path / "muflow" / "task" / "0123" / "a.txt").read_text() == "x"
    reader = LocalStorageBackend.within(tmp_path, "muflow/task/0123", allowed_outputs=set())
    assert reader.read_file("a.txt") == b"x"
    with pytest.raises(PermissionError, match="read-only"):
        reader.save_text("b.txt", "y")
    with pytest.raises(ValueError, match="'..'"):
        LocalStorageBackend.within(tmp_path, "../outside")
