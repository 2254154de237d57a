"""Storage backends and content-addressed prefixes."""

from .base import (
    PROTECTED_FILES,
    StorageBackend,
    compute_prefix,
    compute_prefixes,
    validate_filename,
    validate_writable,
)
from .local import LocalStorageBackend
from .s3 import S3StorageBackend

__all__ = [
    "PROTECTED_FILES",
    "StorageBackend",
    "LocalStorageBackend",
    "S3StorageBackend",
    "compute_prefix",
    "compute_prefixes",
    "validate_filename",
    "validate_writable",
]
