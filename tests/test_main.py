"""The command line: the OMES job end to end, and one-line errors for bad input."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from drl_jax.evaluation import representations

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "drl_jax.main", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """A generated representation: dims 0-2 encode the 3 FoVs, dim 3 is inactive."""
    folder = tmp_path_factory.mktemp("example")
    rng = np.random.default_rng(0)
    labels = np.stack([rng.integers(0, k, 4000) for k in (12, 15, 20)], axis=1)
    mean = np.concatenate([labels / 10.0, np.zeros((4000, 1))], axis=1).astype(np.float32)
    representations.write(folder, mean, mean + 0.01, labels.astype(float), ["a", "b", "c"])
    return folder


def test_omes_job_writes_every_file(example, tmp_path):
    out = tmp_path / "out"
    result = run_cli(
        "--config=configs/omes.py", f"--config.input={example}", f"--config.workdir={out}"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "omes.json").read_text())
    assert set(report) == {
        "request",
        "versions",
        "max",
        "avg",
        "per_fov",
        "os",
        "mes",
        "association",
        "inactive",
        "n_pairs",
    }
    assert list(report["max"]) == [f"{0.1 * i:.1f}" for i in range(11)]
    assert report["association"] == {"a": 0, "b": 1, "c": 2}
    assert report["inactive"] == [3]
    assert report["max"]["0.5"] > 0.85
    csv_lines = (out / "association_matrix.csv").read_text().splitlines()
    assert csv_lines[0] == "dim,active,a,b,c" and len(csv_lines) == 5
    assert csv_lines[4].startswith("3,false,")
    assert report["request"]["settings"]["mode"] == "mean"
    assert len(report["request"]["input"]["representations.npz"]) == 64  # its SHA-256
    # The same request: reused. Another mode: recomputed, saying so.
    again = run_cli(
        "--config=configs/omes.py", f"--config.input={example}", f"--config.workdir={out}"
    )
    assert "reused (same input files and settings)" in again.stdout
    sampled = run_cli(
        "--config=configs/omes.py", f"--config.input={example}", f"--config.workdir={out}",
        "--config.mode=sampled",
    )  # fmt: skip
    assert "settings.mode mean -> sampled: recomputing" in sampled.stdout
    assert json.loads((out / "omes.json").read_text())["request"]["settings"]["mode"] == "sampled"
    assert (out / "association_matrix.png").read_bytes()[:4] == b"\x89PNG"
    assert "all" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--config.inputt=x"], "unknown config key 'inputt'"),
        (["--config.seed=abc"], "--config.seed=abc"),
        (
            ["--config.input=/nonexistent", "--config.workdir=/tmp/x"],
            "representations.npz not found",
        ),
        (["--config.workdir=/tmp/x"], "No input: pass --config.input=DIR"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(args, message):
    result = run_cli("--config=configs/omes.py", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_preset_and_missing_config_file():
    result = run_cli("--config=configs/omes.py:fast")
    assert result.returncode == 2 and "Unknown preset 'fast'" in result.stderr
    result = run_cli("--config=configs/nope.py")
    assert result.returncode == 2 and "No such file" in result.stderr


def run_python(code: str):
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


# Runs the CLI in this process after `setup` and prints, at exit, whether JAX was imported.
_CLI = """
import atexit, runpy, sys
atexit.register(lambda: print("jax imported:", "jax" in sys.modules))
{setup}
sys.argv = ["drl_jax.main", *{args!r}]
runpy.run_module("drl_jax.main", run_name="__main__")
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--config=configs/transfer.py:tiny", "--config.train.stepz=3"],
        ["--config=configs/transfer.py", "--config.eval.num_samples=many"],
        ["--config=configs/omes.py:fast"],
    ],
)
def test_help_and_config_errors_do_not_import_jax(args):
    result = run_python(_CLI.format(setup="", args=args))
    assert "jax imported: False" in result.stdout, result.stdout + result.stderr
    assert result.returncode == (1 if args == ["--help"] else 2)  # absl's --help exits 1


def test_corrupt_npz_and_truncated_csv_are_named(example, tmp_path):
    (tmp_path / "representations.npz").write_bytes(b"not a zip archive at all")
    (tmp_path / "classes.csv").write_text((example / "classes.csv").read_text())
    result = run_cli("--config=configs/omes.py", f"--config.input={tmp_path}",
                     f"--config.workdir={tmp_path / 'out'}")  # fmt: skip
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert f"{tmp_path / 'representations.npz'} is not a readable .npz archive" in result.stderr
    assert "'mean' and 'sampled'" in result.stderr
    (tmp_path / "representations.npz").write_bytes((example / "representations.npz").read_bytes())
    text = (example / "classes.csv").read_text()
    (tmp_path / "classes.csv").write_text(text[: text.rindex(",", 0, len(text) // 2)])
    result = run_cli("--config=configs/omes.py", f"--config.input={tmp_path}",
                     f"--config.workdir={tmp_path / 'out'}")  # fmt: skip
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "classes.csv line" in result.stderr and "truncated" in result.stderr
    assert not (tmp_path / "out" / "omes.json").exists()


# Every write of PNG bytes fails as on a full disk (or a folder without write permission),
# after half of the bytes reached the file. Other writes (JAX's compilation cache) succeed.
_FAILING_WRITES = """
import errno
from etils import epath
write_bytes = type(epath.Path("/")).write_bytes
def failing_write(self, data):
    if bytes(data[:4]) != b"\\x89PNG":
        return write_bytes(self, data)
    with open(self, "wb") as f:
        f.write(data[: len(data) // 2])
    raise OSError(errno.{code}, "{reason}", str(self))
type(epath.Path("/")).write_bytes = failing_write
"""


@pytest.mark.parametrize(
    "code, reason", [("ENOSPC", "No space left on device"), ("EACCES", "Permission denied")]
)
def test_failed_write_is_one_line_and_leaves_nothing_behind(example, tmp_path, code, reason):
    out = tmp_path / "out"
    args = ["--config=configs/omes.py", f"--config.input={example}", f"--config.workdir={out}",
            "--config.overwrite=True"]  # fmt: skip
    assert run_cli(*args).returncode == 0
    finished = {p.name: p.read_bytes() for p in out.iterdir()}
    setup = _FAILING_WRITES.format(code=code, reason=reason)
    result = run_python(_CLI.format(setup=setup, args=args))
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"drl_jax: error: could not write {out / 'association_matrix.png'}: {reason}; free "
        "space or fix the folder's permissions and rerun (finished files are kept)."
    ]
    # No temporary file is left, and the finished files are untouched.
    assert {p.name: p.read_bytes() for p in out.iterdir()} == finished


def test_unknown_conv_formulation_is_one_line(tmp_path):
    result = run_cli(
        "--config=configs/train_source.py:quick",
        f"--config.workdir={tmp_path}",
        "--config.model.conv=fast",
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "drl_jax: error: config.model.conv: Unknown conv formulation 'fast'; valid: auto, "
        "native, patches, s2d."
    )
    assert not any(tmp_path.iterdir())  # stopped before writing anything
