"""What a result answers: the request record every metrics.json carries, and reuse by request.

A request record says everything that determines a result's numbers:
  model       the model card (recorded; the checkpoint's fingerprint identifies the weights)
  checkpoint  folder (recorded), which ('last', 'best' or a step), step, and `fingerprint`:
              SHA-256 of the restored variables
  dataset     name, the channels the models saw, the prepared TFDS version (data_dir is
              recorded only)
  settings    every evaluation setting that changes a number, with choices such as
              'auto' resolved to what ran
Beside it, `versions` records drl_jax (with its git commit where there is one) and the
libraries that compute the numbers. A finished result is reused only when its request
equals the new one on every field of `reuse_key`; versions that differ are reported,
not a reason to recompute (README, "Reruns and reproducibility").
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from etils import epath

# Request fields recorded for people but not compared: they do not change numbers.
NOT_COMPARED = ("model", "checkpoint.folder", "dataset.data_dir")
_LIBRARIES = ("jax", "jaxlib", "numpy", "scikit-learn", "lightgbm")


@functools.cache
def versions() -> dict[str, str]:
    """drl_jax's version (+ git commit of its checkout, '-dirty' with local changes) and the
    versions of the libraries that compute the numbers."""
    found = {"drl_jax": _version("drl_jax")}
    commit = _git_commit()
    if commit:
        found["drl_jax_commit"] = commit
    return found | {name: _version(name) for name in _LIBRARIES}


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _git_commit() -> str:
    """The commit of the checkout drl_jax runs from ('' for an installed wheel)."""
    checkout = Path(__file__).resolve().parents[2]
    if not (checkout / ".git").exists():
        return ""
    try:
        commit = subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(checkout), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return commit + ("-dirty" if dirty else "")


def fingerprint(tree: Any) -> str:
    """SHA-256 over a pytree's array leaves (path, dtype, shape and bytes), hex.

    Equal for equal variables however they were restored (host or device arrays).
    """
    import jax  # noqa: PLC0415 (the records are read by light code too)

    digest = hashlib.sha256()
    for path, leaf in sorted(
        jax.tree_util.tree_flatten_with_path(tree)[0],
        key=lambda item: jax.tree_util.keystr(item[0]),
    ):
        array = np.ascontiguousarray(np.asarray(leaf))
        digest.update(f"{jax.tree_util.keystr(path)}:{array.dtype}:{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one dict by dotted name; lists and scalars are leaves."""
    if isinstance(value, Mapping):
        flat = {}
        for key, item in value.items():
            flat |= flatten(item, f"{prefix}{key}.")
        return flat
    return {prefix[:-1]: list(value) if isinstance(value, tuple) else value}


def reuse_key(request: Mapping[str, Any]) -> dict[str, Any]:
    """The request's fields that change numbers, by dotted name."""
    return {
        name: value
        for name, value in flatten(request).items()
        if not any(name == field or name.startswith(f"{field}.") for field in NOT_COMPARED)
    }


def changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """'name old -> new' for every dotted name whose value differs (missing: '-')."""
    old, new = flatten(old), flatten(new)
    return [
        f"{name} {_short(old.get(name, '-'))} -> {_short(new.get(name, '-'))}"
        for name in sorted(set(old) | set(new))
        if old.get(name, "-") != new.get(name, "-")
    ]


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 40 else f"{text[:12]}..."  # e.g. a fingerprint


def reuse_decision(
    previous: Mapping[str, Any] | None, request: Mapping[str, Any]
) -> tuple[bool, str]:
    """Whether a finished result (its metrics.json content, or None) answers `request`.

    Returns:
      (reuse, why): why is '' for a result not computed yet and for one reused as it
      is, else one line, e.g. "settings.num_samples 400 -> 500: recomputing" or
      "reused (recorded with jax 0.9.0 -> 0.10.2)".
    """
    if previous is None:
        return False, ""
    if "request" not in previous:
        return False, "no request record (written by an older drl_jax): recomputing"
    differ = changes(reuse_key(previous["request"]), reuse_key(request))
    if differ:
        listed = "; ".join(differ[:3]) + (f" (+{len(differ) - 3} more)" if len(differ) > 3 else "")
        return False, f"{listed}: recomputing"
    versions_differ = changes(previous.get("versions", {}), versions())
    if versions_differ:
        return True, f"reused (recorded with {'; '.join(versions_differ)})"
    return True, ""


def digest(value: Any) -> str:
    """SHA-256 of a JSON value in canonical form (sorted keys), hex."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def file_digests(root: epath.PathLike, paths: Sequence[epath.PathLike]) -> dict[str, str]:
    """SHA-256 of each file's content, by its '/'-separated path relative to root."""
    root = epath.Path(root)
    return {
        epath.Path(p).relative_to(root).as_posix(): hashlib.sha256(
            epath.Path(p).read_bytes()
        ).hexdigest()
        for p in paths
    }
