"""The workdir: where every job writes, and how (DESIGN.md "Workdir layout").

Writes are atomic (a temporary file renamed into place), so an interrupted run
never leaves a half-written result that a rerun would mistake for a finished one.
Paths go through etils.epath, so local folders and gs:// buckets work alike.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import jax
import ml_collections
from etils import epath


def write_atomic(path: str | epath.PathLike, data: bytes | str) -> None:
    """Writes `data` to `path` through a temporary sibling and a rename."""
    path = epath.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    if isinstance(data, str):
        temporary.write_text(data)
    else:
        temporary.write_bytes(data)
    temporary.replace(path)


def write_json(path: str | epath.PathLike, value: Any) -> None:
    write_atomic(path, json.dumps(value, indent=2, sort_keys=False) + "\n")


def read_json(path: str | epath.PathLike) -> Any:
    return json.loads(epath.Path(path).read_text())


def save_config(workdir: str | epath.PathLike, config: ml_collections.ConfigDict) -> None:
    """Writes the resolved config as WORKDIR/config.json (untouched when unchanged; process 0)."""
    if jax.process_index() != 0:
        return
    path = epath.Path(workdir) / "config.json"
    text = json.dumps(config.to_dict(), indent=2) + "\n"
    if not path.exists() or path.read_text() != text:
        write_atomic(path, text)
