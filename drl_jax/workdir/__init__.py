"""The workdir: its layout (`layout`), its files' atomic reads and writes (`files`), the
request record of every result (`records`) and the locks that keep one writer per
output (`locks`). docs/workdir.md describes every folder and file."""

from drl_jax.workdir.files import read_json, write_atomic, write_config, write_json

__all__ = ["read_json", "write_atomic", "write_config", "write_json"]
