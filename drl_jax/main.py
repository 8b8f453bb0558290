"""drl_jax's command line: `python -m drl_jax.main --config=configs/<job>.py[:preset]`.

Parses the config (ml_collections, locked: a mistyped key fails at start),
joins a multi-host run when one is configured, and dispatches on `config.job`
(`drl_jax.jobs`). Mistakes in what the user asked for, unreadable inputs and failed
writes are reported as one line and exit code 2. Parsing imports no JAX, so
`--help` and config errors are fast.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

from absl import app, flags, logging
from ml_collections import config_flags

from drl_jax import jobs
from drl_jax.errors import UsageError

_CONFIG = config_flags.DEFINE_config_file(
    "config",
    None,
    "Config file, e.g. configs/transfer.py or configs/transfer.py:quick.",
    lock_config=True,
)


def fail(message: str) -> None:
    print(f"drl_jax: error: {message}", file=sys.stderr)
    sys.exit(2)


def _unknown_key_message(error: Exception, argv: list[str]) -> str:
    """Names the override with an unknown key and lists the valid keys at its level."""
    missing = (re.findall(r"\w+", str(error)) or ["?"])[0]
    for arg in argv:
        match = re.match(r"--config\.([\w.]+)=?", arg)
        if not match or missing not in match.group(1).split("."):
            continue
        path = match.group(1).split(".")
        parent = path[: path.index(missing)]
        config = _load_for_help(argv)
        if config is not None:
            for part in parent:
                config = config[part]
            valid = ", ".join(sorted(config.keys()))
            return f"unknown config key {'.'.join(path)!r} in {arg}; valid keys there: {valid}."
    return f"unknown config key {missing!r}; check the spelling against the config file."


def config_import_path(argv: list[str]) -> None:
    """Puts each --config file's folder first on sys.path, as Python does for a script, so
    a config file imports its siblings (configs/common.py)."""
    for arg in argv:
        if arg.startswith("--config="):
            folder = str(Path(arg.removeprefix("--config=").partition(":")[0]).parent.resolve())
            if folder not in sys.path:
                sys.path.insert(0, folder)


def _load_for_help(argv: list[str]):
    for arg in argv:
        if arg.startswith("--config="):
            file, _, preset = arg.removeprefix("--config=").partition(":")
            spec = importlib.util.spec_from_file_location("config_for_help", file)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module.get_config(preset or None)
    return None


def parse_flags(argv: list[str]) -> list[str]:
    """absl flag parsing with one-line errors instead of tracebacks."""
    config_import_path(argv)
    try:
        rest = flags.FLAGS(argv)
    except flags.UnrecognizedFlagError as error:
        fail(f"{error}. Config overrides are written --config.<key>=<value>.")
    except flags.Error as error:
        fail(_last_line(error))
    except (AttributeError, KeyError) as error:
        fail(_unknown_key_message(error, argv))
    if not any(arg.startswith("--config=") for arg in argv):
        fail(f"no config: pass --config=configs/<job>.py (jobs: {', '.join(jobs.NAMES)}).")
    try:
        config = _CONFIG.value
        config.job  # noqa: B018 (loads a deferred config and raises its error here)
    except Exception as error:  # the config file's own error, e.g. an unknown preset
        fail(f"could not load the config: {_last_line(error)}")
    return rest


def _last_line(error: Exception) -> str:
    """The message of an error whose text may embed a traceback: its last line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def main(argv: list[str]) -> None:
    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)  # keep JAX's backend probing out of the output
    if len(argv) > 1:
        fail(f"unexpected arguments {argv[1:]}; settings are passed as --config.<key>=<value>.")
    config = _CONFIG.value
    if config.job not in jobs.NAMES:
        fail(f"unknown job {config.job!r}; valid jobs: {', '.join(jobs.NAMES)}.")
    try:
        from drl_jax import runtime  # JAX loads here, after the config is known to be good

        runtime.initialize()
        jobs.run(config)
    except UsageError as error:
        fail(str(error))
    except OSError as error:  # a read or write the job could not do: disk full, no permission
        where = f" {error.filename}" if error.filename else ""
        fail(f"could not access{where}: {error.strerror or error}.")
    except KeyboardInterrupt:
        fail("interrupted; rerun the same command to resume from the last checkpoint.")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
