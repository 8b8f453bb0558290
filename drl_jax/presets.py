"""Presets for config files: `--config=configs/X.py:preset[,key=value...]`.

A config file builds the paper's protocol in `get_config(arg)` and ends with
`return apply_preset(config, arg, PRESETS)`, where PRESETS maps a preset name to
dotted-key overrides. `arg` is a preset name, `key=value` pairs, or both,
comma-separated (`quick,seed=3`); values are parsed to the type of the field
they replace.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import ml_collections


def apply_preset(
    config: ml_collections.ConfigDict,
    arg: str | None,
    presets: Mapping[str, Mapping[str, Any]],
) -> ml_collections.ConfigDict:
    """Applies the preset and `key=value` overrides named by `arg` to `config`."""
    for item in filter(None, _split_items(arg or "")):
        if "=" in item:
            key, value = item.split("=", 1)
            set_dotted(config, key.strip(), _parse_like(get_dotted(config, key.strip()), value))
        elif item in presets:
            for key, value in presets[item].items():
                set_dotted(config, key, value)
        else:
            raise ValueError(
                f"Unknown preset {item!r}; valid presets: {', '.join(sorted(presets)) or 'none'} "
                "(or key=value overrides)."
            )
    return config


def _split_items(arg: str) -> list[str]:
    """Splits on commas outside brackets: 'quick,sweep.seeds=(0, 1)' -> 2 items."""
    items, depth, start = [], 0, 0
    for i, char in enumerate(arg):
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "," and depth == 0:
            items.append(arg[start:i].strip())
            start = i + 1
    items.append(arg[start:].strip())
    return items


def get_dotted(config: ml_collections.ConfigDict, key: str) -> Any:
    node = config
    for part in key.split("."):
        if part not in node:
            raise KeyError(f"Unknown config key {key!r} (no {part!r} in {sorted(node.keys())}).")
        node = node[part]
    return node


def set_dotted(config: ml_collections.ConfigDict, key: str, value: Any) -> None:
    *parents, leaf = key.split(".")
    node = get_dotted(config, ".".join(parents)) if parents else config
    if leaf not in node:
        raise KeyError(f"Unknown config key {key!r} (valid: {sorted(node.keys())}).")
    node[leaf] = value


def _parse_like(current: Any, text: str) -> Any:
    text = text.strip()
    if isinstance(current, str):
        return text
    if isinstance(current, bool):
        if text.lower() not in ("true", "false"):
            raise ValueError(f"Expected True or False, got {text!r}.")
        return text.lower() == "true"
    value = ast.literal_eval(text)
    return type(current)(value) if isinstance(current, int | float) else value
