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
    assert (out / "association_matrix.png").read_bytes()[:4] == b"\x89PNG"
    assert "all" in result.stdout
    # A rerun keeps the finished result and says so.
    again = run_cli(
        "--config=configs/omes.py", f"--config.input={example}", f"--config.workdir={out}"
    )
    assert again.returncode == 0 and "exists" in again.stdout


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
