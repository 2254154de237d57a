"""Which nodes of a plan are complete: a node is complete when its prefix holds a
manifest.json. A checker is bound to a storage configuration, not to one prefix, so
that it can be rebuilt from a PlanHandle anywhere."""

from __future__ import annotations

import json
import os
from typing import Optional, Protocol, runtime_checkable

from .. import _ffi


@runtime_checkable
class ProgressChecker(Protocol):
    def completed_prefixes(self, prefixes: list[str]) -> set[str]: ...

    def to_config(self) -> dict: ...

    @classmethod
    def from_config(cls, config: dict) -> "ProgressChecker": ...


class LocalProgressChecker:
    """Checks local directories, all in one native call (on several threads for long
    lists); a manifest counts only if every file it records has its recorded size.
    Prefixes are paths, relative to `path` when given (a shared directory), else to the
    working directory."""

    def __init__(self, path: Optional[str] = None):
        self._path = path

    def completed_prefixes(self, prefixes: list[str]) -> set[str]:
        prefixes = list(prefixes)
        if not prefixes:
            return set()
        paths = prefixes if self._path is None else [os.path.join(self._path, p) for p in prefixes]
        text = json.dumps(paths).encode("utf-8")
        flags = json.loads(
            _ffi.call_returning_string(_ffi.mf_storage_check_manifests, text, _ffi.CACHE_CHECK_SIZES)
        )
        return {prefix for prefix, done in zip(prefixes, flags) if done}

    def to_config(self) -> dict:
        return {} if self._path is None else {"path": self._path}

    @classmethod
    def from_config(cls, config: dict) -> "LocalProgressChecker":
        return cls(config.get("path"))


class S3ProgressChecker:
    """Checks `{prefix}/manifest.json` in an S3 bucket, one HEAD request per prefix."""

    def __init__(self, bucket: str):
        self._bucket = bucket

    def completed_prefixes(self, prefixes: list[str]) -> set[str]:
        try:
            import boto3
            from botocore.exceptions import ClientError
        except ImportError as exc:
            raise ImportError("boto3 is required for S3ProgressChecker: pip install boto3") from exc
        client = boto3.client("s3")
        done = set()
        for prefix in prefixes:
            try:
                client.head_object(Bucket=self._bucket, Key=f"{prefix}/manifest.json")
            except ClientError as exc:
                if exc.response["Error"]["Code"] in ("404", "NoSuchKey"):
                    continue
                raise
            done.add(prefix)
        return done

    def to_config(self) -> dict:
        return {"bucket": self._bucket}

    @classmethod
    def from_config(cls, config: dict) -> "S3ProgressChecker":
        return cls(bucket=config["bucket"])


def make_progress_checker(storage_type: str, storage_config: dict) -> ProgressChecker:
    """The checker a PlanHandle's storage_type and storage_config describe."""
    if storage_type == "local":
        return LocalProgressChecker.from_config(storage_config)
    if storage_type == "s3":
        return S3ProgressChecker.from_config(storage_config)
    raise ValueError(f"Unknown storage_type: {storage_type!r}. Expected 'local' or 's3'.")
