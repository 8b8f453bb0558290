"""The workdir: its layout, the request records that decide reuse, and the locks."""

import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from conftest import ROOT

from drl_jax.errors import UsageError
from drl_jax.workdir import layout, locks, records

REQUEST = {
    "model": {"model_id": "m0", "seed": 0},
    "checkpoint": {"folder": "/a/m0", "which": "last", "step": 10, "fingerprint": "ab"},
    "dataset": {"name": "procedural_dsprites", "prepared": "procedural", "channels": 1},
    "settings": {"num_samples": 400, "metrics": ["omes", "mig"]},
}


def previous(request=REQUEST, versions=None):
    return {"request": request, "versions": versions or records.versions(), "mig": {}}


def test_a_result_is_reused_only_for_the_same_request():
    assert records.reuse_decision(None, REQUEST) == (False, "")
    assert records.reuse_decision(previous(), REQUEST) == (True, "")
    changed = {**REQUEST, "settings": {**REQUEST["settings"], "num_samples": 500}}
    assert records.reuse_decision(previous(), changed) == (
        False,
        "settings.num_samples 400 -> 500: recomputing",
    )
    other_data = {**REQUEST, "dataset": {**REQUEST["dataset"], "name": "procedural_noisy_dsprites"}}
    reuse, why = records.reuse_decision(previous(), other_data)
    assert not reuse and why.startswith("dataset.name procedural_dsprites -> procedural_noisy")
    retrained = {**REQUEST, "checkpoint": {**REQUEST["checkpoint"], "fingerprint": "cd"}}
    assert records.reuse_decision(previous(), retrained) == (
        False,
        "checkpoint.fingerprint ab -> cd: recomputing",
    )
    old = {"mig": {}}  # written before requests were recorded
    assert records.reuse_decision(old, REQUEST) == (
        False,
        "no request record (written by an older drl_jax): recomputing",
    )


def test_fields_that_change_no_number_and_versions_do_not_recompute():
    moved = {**REQUEST, "checkpoint": {**REQUEST["checkpoint"], "folder": "/b/m0"}}
    moved["model"] = {"model_id": "m0", "seed": 0, "finetuned_from": None}
    assert records.reuse_decision(previous(), moved) == (True, "")
    older = previous(versions={**records.versions(), "jax": "0.0.1"})
    reuse, why = records.reuse_decision(older, REQUEST)
    assert reuse and why == f"reused (recorded with jax 0.0.1 -> {records.versions()['jax']})"


def test_fingerprint_is_of_the_values_not_their_container():
    tree = {"params": {"dense": {"kernel": np.ones((2, 3), np.float32)}}, "batch_stats": {}}
    same = {"batch_stats": {}, "params": {"dense": {"kernel": np.ones((2, 3), np.float32)}}}
    assert records.fingerprint(tree) == records.fingerprint(same)
    changed = {"params": {"dense": {"kernel": np.full((2, 3), 1.0 + 1e-7, np.float32)}}}
    assert records.fingerprint(changed) != records.fingerprint(tree)
    assert len(records.fingerprint(tree)) == 64


def test_layout_names_pairs_and_stages():
    assert layout.pair_name("a_b", "c") == "a_b__to__c"
    assert layout.parse_pair("a_b__to__c") == ("a_b", "c")
    assert layout.parse_pair("a_b") is None
    pair = layout.pair("/w", "src", "tgt")
    assert str(pair.stage("m0", "after")) == "/w/transfer/src__to__tgt/m0/after"
    assert layout.stage_of("transfer/src__to__tgt/m0/before/metrics.json") == (
        "before",
        "src__to__tgt",
    )
    assert layout.stage_of("out/src/m0/procedural_dsprites/last/metrics.json") == ("", "")
    with pytest.raises(ValueError, match="stage must be"):
        pair.stage("m0", "during")


def test_a_held_folder_stops_a_second_writer_until_its_holder_dies(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import time
                from drl_jax.workdir import locks
                with locks.hold([{str(tmp_path)!r}]):
                    print("held", flush=True)
                    time.sleep(300)
                """
            ),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    started = time.time()
    with pytest.raises(
        UsageError, match=rf"being written by another drl_jax job .*PID {holder.pid}"
    ):
        with locks.hold([tmp_path]):
            pass
    assert time.time() - started < 5
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=60)
    with locks.hold([tmp_path]):  # the dead holder's lock does not block
        assert (tmp_path / locks.HOLDER).exists()
    assert not (tmp_path / locks.HOLDER).exists()


def test_nested_holds_of_one_folder_in_one_process(tmp_path):
    with locks.hold([tmp_path]), locks.hold([tmp_path, tmp_path / "sub"]):
        assert (tmp_path / "sub" / locks.HOLDER).exists()
    assert not locks.is_lockable("gs://bucket/workdir") and locks.is_lockable(tmp_path)
