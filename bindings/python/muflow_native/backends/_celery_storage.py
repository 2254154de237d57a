"""Where the nodes of a Celery plan write: an S3 bucket (muflow's choice) or a
directory every worker mounts at the same path.

A storage is described by a small dict that travels with each message and is
recorded in the PlanHandle (`storage_type`, `storage_config`), so that workers and
progress checkers anywhere rebuild the same storage from it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Optional

from ..storage.local import LocalStorageBackend
from ..storage.progress import S3ProgressChecker, make_progress_checker
from ..storage.s3 import S3StorageBackend, default_s3_client


@dataclass(frozen=True)
class CeleryStorage:
    """`kind` "s3" (`location` is the bucket) or "local" (`location` is the shared
    directory under which each node's storage_prefix is its directory)."""

    kind: str
    location: str

    @classmethod
    def choose(cls, bucket: Optional[str], shared_directory: Optional[str]) -> "CeleryStorage":
        if shared_directory is not None:
            if bucket:
                raise ValueError("Give either a bucket (S3 storage) or a shared_directory, not both")
            if not str(shared_directory):
                raise ValueError("shared_directory must not be empty")
            return cls("local", str(shared_directory))
        if not bucket:
            raise ValueError("A bucket (S3 storage) or a shared_directory is required")
        return cls("s3", str(bucket))

    # -- What the PlanHandle records --------------------------------------------------

    @property
    def handle_config(self) -> dict:
        return {"bucket": self.location} if self.kind == "s3" else {"path": self.location}

    @property
    def message_bucket(self) -> str:
        """The third argument of a node message: muflow's bucket, empty for a directory."""
        return self.location if self.kind == "s3" else ""

    def to_header(self) -> Optional[str]:
        """What a message carries beyond muflow's arguments: nothing for S3 (so that
        muflow's workers can run level-mode messages), the directory otherwise."""
        return None if self.kind == "s3" else json.dumps({"type": self.kind, "path": self.location})

    @classmethod
    def from_message(cls, bucket: str, header: Optional[str]) -> "CeleryStorage":
        if header:
            spec = json.loads(header)
            return cls(spec["type"], spec["path"])
        return cls("s3", bucket)

    # -- Opening storages --------------------------------------------------------------

    def node_storage(self, prefix: str, inputs: Optional[dict] = None):
        """The writable storage of the node at `prefix`; with the node's current
        `inputs` its manifest records them and its cache check is the core's
        stale-input check."""
        return self._open(prefix, writable=True, inputs=inputs)

    def dependency_storages(self, prefixes: dict[str, str]) -> dict:
        return {key: self._open(prefix, writable=False) for key, prefix in prefixes.items()}

    def _open(self, prefix: str, writable: bool, inputs: Optional[dict] = None):
        if self.kind == "local":
            return LocalStorageBackend.within(self.location, prefix, allowed_outputs=None if writable else set(),
                                              inputs=inputs)
        return S3StorageBackend(prefix, self.location, s3_client=default_s3_client(),
                                allowed_outputs=None if writable else set(), inputs=inputs)

    def progress_checker(self):
        return make_progress_checker(self.kind, self.handle_config)

    def s3_client(self):
        """The client that lists and reads manifests (a timestamp stays text: listings
        of a thousand keys are not parsed for dates nobody reads)."""
        return default_s3_client(parse_timestamps=False)

    def manifest(self, prefix: str) -> Optional[tuple[str, bytes]]:
        """("", bytes) of the manifest of the node at `prefix` in a shared directory, or
        None (no ETag: a file's bytes are read whole)."""
        try:
            with open(os.path.join(self.location, prefix, "manifest.json"), "rb") as f:
                return "", f.read()
        except FileNotFoundError:
            return None

    def completed(self, prefixes: list[str]) -> set[str]:
        """The prefixes whose node is complete (cached)."""
        if self.kind == "s3":
            return S3ProgressChecker(self.location).completed_prefixes(prefixes)
        return self.progress_checker().completed_prefixes(prefixes)
