"""The workdir: where every job writes, and how (DESIGN.md "Workdir layout").

Writes are atomic (a temporary file renamed into place), so an interrupted run
never leaves a half-written result that a rerun would mistake for a finished one,
and a failed write (no space, no permission) leaves neither a temporary file nor
a damaged finished one: it raises UsageError naming the path. Paths go through
etils.epath, so local folders and gs:// buckets work alike.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

import jax
from etils import epath

from drl_jax.errors import UsageError


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


def save_config(workdir: str | epath.PathLike, config: Mapping[str, Any]) -> None:
    """Writes a resolved config (a plain dict) as WORKDIR/config.json (process 0; untouched
    when unchanged)."""
    if jax.process_index() != 0:
        return
    path = epath.Path(workdir) / "config.json"
    text = json.dumps(config, indent=2) + "\n"
    if not path.exists() or path.read_text() != text:
        write_atomic(path, text)
