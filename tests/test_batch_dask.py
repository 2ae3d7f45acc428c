"""The batch job on Dask: same results as local, and a killed worker loses nothing."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import cloudpickle
import numpy as np
from distributed import Client, LocalCluster

import dask_helpers
from batch_helpers import make_collection, outputs, run_cli
from remotemedia import register_node
from remotemedia.batch import presets, run_batch


def test_dask_local_cluster_equals_local_run(tmp_path: Path) -> None:
    make_collection(tmp_path / "in", n_good=6)
    local = run_cli("in", "-o", "local", "--workers", "1", cwd=tmp_path)
    dask = run_cli("in", "-o", "dask", "--dask", "local", "--workers", "2", cwd=tmp_path)
    assert local.returncode == dask.returncode == 1  # the same bad files fail both ways
    assert "ClientExecutor" in dask.stdout
    a, b = outputs(tmp_path / "local"), outputs(tmp_path / "dask")
    assert sorted(a) == sorted(b) and len(a) == 6
    for key in a:
        np.testing.assert_array_equal(a[key][0], b[key][0])
        assert a[key][2]["speech_segments"] == b[key][2]["speech_segments"]
    fail_a = (tmp_path / "local" / "_remotemedia_failures.jsonl").read_text().splitlines()
    fail_b = (tmp_path / "dask" / "_remotemedia_failures.jsonl").read_text().splitlines()
    assert sorted(fail_a) == sorted(fail_b)


def test_killed_dask_worker_is_retried_and_no_file_is_lost(tmp_path: Path) -> None:
    good = make_collection(tmp_path / "in", n_good=6, seconds=2.0, bad=False)
    register_node(dask_helpers.SlowNode, replace=True)
    cloudpickle.register_pickle_by_value(dask_helpers)
    manifest = dask_helpers.slow_manifest(presets.load("speech-16k"), seconds=0.6)
    reference = run_batch([tmp_path / "in"], manifest, tmp_path / "ref", workers=1, progress="none")
    assert reference.ok == len(good)

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        client.register_plugin(dask_helpers.RegisterSlowNode())
        killed: list[int] = []
        pids = client.run(os.getpid)  # worker address -> process id

        def kill_a_busy_worker() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not killed:
                busy = [addr for addr, keys in client.processing().items() if keys]
                if busy:
                    time.sleep(0.2)  # well inside SlowNode's sleep: the task is mid-run
                    pid = pids[busy[0]]
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                time.sleep(0.02)

        killer = threading.Thread(target=kill_a_busy_worker)
        killer.start()
        summary = run_batch(
            [tmp_path / "in"],
            manifest,
            tmp_path / "out",
            executor=client.get_executor(pure=False, retries=2),
            progress="none",
        )
        killer.join()
    assert killed, "no worker was killed: the test did not exercise anything"
    assert (summary.ok, summary.failed) == (len(good), 0), summary.failures
    got, want = outputs(tmp_path / "out"), outputs(tmp_path / "ref")
    assert sorted(got) == sorted(want)
    for key in got:
        np.testing.assert_array_equal(got[key][0], want[key][0])
    assert sys.modules["dask_helpers"] is dask_helpers
