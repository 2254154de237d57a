"""Declaring a task's output files up front.

A task's ``outputs`` class (``register_task(outputs=...)``) carries a ``files`` dict
from file name to :class:`OutputFile`; plans list those names as the node's
``output_files`` and :func:`get_outputs_schema` describes them as JSON schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional, Type

import pydantic


@dataclass
class OutputFile:
    """One output file: its kind (``"json"``, ``"netcdf"``, ``"text"``, ``"binary"``;
    not enforced), what it holds, for JSON an optional pydantic model of its content,
    and whether the task may omit it."""

    file_type: Literal["json", "netcdf", "text", "binary"]
    description: str = ""
    schema: Optional[Type[pydantic.BaseModel]] = None
    optional: bool = False


def get_outputs_schema(outputs_class) -> list:
    """One dict per declared file, in declaration order: ``filename``, ``file_type``,
    ``description``, ``optional`` and ``schema`` (the model's JSON schema, or None).
    An empty list for ``None`` or a class without (or with an empty) ``files``."""
    files = getattr(outputs_class, "files", None) if outputs_class is not None else None
    if not files:
        return []
    return [
        {
            "filename": filename,
            "file_type": output.file_type,
            "description": output.description,
            "optional": output.optional,
            "schema": output.schema.model_json_schema() if output.schema is not None else None,
        }
        for filename, output in files.items()
    ]
