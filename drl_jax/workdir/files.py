"""The workdir: where every job writes, and how (docs/workdir.md).

Writes are atomic (a temporary file renamed into place), so an interrupted run
never leaves a half-written result that a rerun would mistake for a finished one,
and a failed write (no space, no permission) leaves neither a temporary file nor
a damaged finished one: it raises UsageError naming the path. Paths go through
etils.epath, so local folders and gs:// buckets work alike.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from etils import epath

from drl_jax.errors import UsageError
from drl_jax.workdir import layout


def write_atomic(path: str | epath.PathLike, data: bytes | str) -> None:
    """Writes `data` to `path` through a temporary sibling and a rename."""
    path = epath.Path(path)
    temporary = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            temporary.write_text(data)
        else:
            temporary.write_bytes(data)
        temporary.replace(path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise UsageError(
            f"could not write {path}: {error.strerror or error}; free space or fix the "
            "folder's permissions and rerun (finished files are kept)."
        ) from None


def write_json(path: str | epath.PathLike, value: Any) -> None:
    write_atomic(path, json.dumps(value, indent=2, sort_keys=False) + "\n")


def read_json(path: str | epath.PathLike) -> Any:
    """The JSON value of `path`; a file that is not JSON is a UsageError naming it."""
    path = epath.Path(path)
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UsageError(
            f"{path} is not valid JSON ({error}): a truncated write? Delete it to recompute."
        ) from None


def write_config(folder: str | epath.PathLike, config: dict[str, Any]) -> None:
    """Writes a job's resolved config (a plain dict) as folder/config.json, beside the
    outputs it produced (process 0; an unchanged file is left as it is)."""
    import jax  # noqa: PLC0415 (reading files needs no JAX)

    if jax.process_index() != 0:
        return
    path = epath.Path(folder) / layout.CONFIG
    text = json.dumps(config, indent=2) + "\n"
    if not path.exists() or path.read_text() != text:
        write_atomic(path, text)
