"""Running on an existing Ray cluster (sparsyfed/flower/ray_cluster.py, docs/ray_cluster.md).

The fast tests check the address rules and the preflight. The slow test starts
a one-node cluster (``ray start --head`` on 127.0.0.1, free ports, a private
temp dir, its own process group), runs ``python -m sparsyfed`` attached to it
with every kind of injected fault, checks that it really ran on the cluster and
computed the bare in-process loop's run, and stops the cluster by its process
group.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch
from helpers import make_cfg

from sparsyfed.config import ConfigError
from sparsyfed.flower.ray_cluster import check_cluster, cluster_address, init_args

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
from compare_runs import compare  # noqa: E402

RAY = Path(sys.executable).with_name("ray")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def no_ray_address(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)


def with_sim(cfg, **changes):
    return dataclasses.replace(cfg, simulation=dataclasses.replace(cfg.simulation, **changes))


def test_the_address_comes_from_the_key_then_from_ray_address():
    assert cluster_address(None, {}) is None
    assert cluster_address(None, {"RAY_ADDRESS": "h:1"}) == "h:1"
    assert cluster_address("local", {"RAY_ADDRESS": "h:1"}) is None
    assert cluster_address("auto", {}) == "auto"
    assert cluster_address("g:2", {"RAY_ADDRESS": "h:1"}) == "g:2"


def test_attaching_passes_no_resources_to_ray_init(tmp_path, data_dir, no_ray_address):
    cfg = make_cfg(tmp_path, data_dir, "simulation.ray_cpus=2")
    assert init_args(cfg)["address"] == "local" and init_args(cfg)["num_cpus"] == 2
    attached = init_args(with_sim(cfg, ray_cpus=None, ray_address="127.0.0.1:6379"))
    assert attached["address"] == "127.0.0.1:6379"
    assert not {"num_cpus", "num_gpus"} & set(attached)
    assert attached["include_dashboard"] is False and "logging_level" in attached


def test_bad_cluster_settings_are_one_clear_error(tmp_path, data_dir, no_ray_address):
    cfg = make_cfg(tmp_path, data_dir)
    closed = f"127.0.0.1:{free_port()}"
    cases = [
        (with_sim(cfg, ray_address="ray://h:10001"), "Ray Client (ray://) is not supported"),
        (with_sim(cfg, ray_address="h"), "use local, auto or the host:port"),
        (with_sim(cfg, ray_address=closed, ray_cpus=2), "simulation.ray_cpus=2 is not allowed"),
        (with_sim(cfg, ray_address=closed), f"no Ray cluster answers at {closed}"),
        (with_sim(cfg, client_gpus=0.5, ray_address=closed), "no Ray cluster answers"),
        (dataclasses.replace(with_sim(cfg, client_gpus=0.5), device="cpu"), "device=cpu keeps"),
    ]
    for bad, message in cases:
        with pytest.raises(ConfigError, match=re.escape(message)):
            check_cluster(bad)
    check_cluster(cfg)
    check_cluster(with_sim(cfg, ray_address="local", ray_cpus=2))


def test_ray_address_in_the_environment_is_checked_too(tmp_path, data_dir, monkeypatch):
    cfg = make_cfg(tmp_path, data_dir, "simulation.ray_cpus=2")
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{free_port()}")
    with pytest.raises(ConfigError, match=re.escape("the cluster of RAY_ADDRESS=127.0.0.1:")):
        check_cluster(cfg)
    check_cluster(with_sim(cfg, ray_address="local"))  # local ignores RAY_ADDRESS


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_gpu_shares_without_cuda_are_refused(tmp_path, data_dir, no_ray_address):
    with pytest.raises(
        ConfigError, match=re.escape("client_gpus=0.25 is not allowed: this machine has no")
    ):
        check_cluster(make_cfg(tmp_path, data_dir, "simulation.client_gpus=0.25"))


@pytest.mark.parametrize("value", ["-0.5", "1.5"])
def test_gpu_shares_must_be_what_ray_accepts(tmp_path, data_dir, value):
    with pytest.raises(ConfigError, match=re.escape("simulation.client_gpus")):
        make_cfg(tmp_path, data_dir, f"simulation.client_gpus={value}")
    make_cfg(tmp_path, data_dir, "simulation.client_gpus=2")


# --- a real cluster ----------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(RAY_USAGE_STATS_ENABLED="0", FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION="1")
    return env


def start_head(temp: Path, port: int, log: Path) -> subprocess.Popen:
    """``ray start --head`` in a new session: every process of the cluster shares its group.

    Its output goes to a file: the daemons it leaves behind would hold a pipe open.
    """
    cmd = [
        str(RAY), "start", "--head", "--port", str(port), "--node-ip-address", "127.0.0.1",
        "--num-cpus", "2", "--num-gpus", "0", "--disable-usage-stats",
        "--include-dashboard=false", "--dashboard-port", str(free_port()),
        "--ray-client-server-port", str(free_port()),
        "--dashboard-agent-listen-port", str(free_port()), "--temp-dir", str(temp),
    ]  # fmt: skip
    with log.open("w") as fh:
        return subprocess.Popen(
            cmd, env=_env(), start_new_session=True, stdout=fh, stderr=subprocess.STDOUT
        )


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cluster_processes(group: int, temp: Path) -> list[int]:
    """Live processes of the cluster: its process group, or naming its temp dir."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if (int(stat[2]) == group or str(temp) in cmdline) and stat[0] != "Z":
            found.append(int(entry.name))
    return found


def stop_cluster(group: int, temp: Path) -> list[int]:
    """SIGTERM the cluster's processes, SIGKILL what is left after 2 s; return survivors.

    (``ray stop`` would end every Ray of the machine's user, other runs' too.)
    """
    for sig, wait in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
        for pid in cluster_processes(group, temp):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while cluster_processes(group, temp) and time.monotonic() < deadline:
            time.sleep(0.2)
    return [pid for pid in cluster_processes(group, temp) if _alive(pid)]


def run_sparsyfed(log: Path, *overrides: str) -> tuple[int, str]:
    """``python -m sparsyfed``: its PID and what it printed (it must succeed)."""
    with log.open("w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sparsyfed", *overrides],
            cwd=REPO, env=_env(), stdout=fh, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            proc.wait(timeout=300)
        finally:
            proc.kill()
    output = log.read_text()
    assert proc.returncode == 0, output[-3000:]
    return proc.pid, output


@pytest.mark.slow
@pytest.mark.skipif(not RAY.is_file(), reason="the ray CLI is not installed next to python")
def test_a_run_attached_to_a_cluster_with_every_fault_kind_equals_the_bare_loop(tmp_path, data_dir):
    """One real run serves two checks: attaching to a cluster, and faults under Ray.

    Every kind of injected fault (real time-outs included) in 40% of the clients:
    every round completes on the survivors, each failure is logged once, and the
    records equal, bit for bit, the bare in-process loop with the same faults.
    """
    from fault_runs import assert_every_fault_met, command_line, every_fault_args

    from sparsyfed.core.executor import LocalExecutor
    from sparsyfed.run.session import execute, plan

    temp = Path(tempfile.mkdtemp(prefix="sfray", dir="/tmp"))  # short: Ray's socket paths
    port = free_port()
    head = start_head(temp, port, tmp_path / "head.log")
    args = every_fault_args(tmp_path, data_dir, round_timeout=6)
    try:
        # The reference (which also generates the dataset) while the cluster starts.
        bare = make_cfg(tmp_path / "bare", data_dir, *args)
        threads = torch.get_num_threads()
        try:
            execute(bare, LocalExecutor(bare), plan(bare))
        finally:
            torch.set_num_threads(threads)
        assert head.wait(timeout=120) == 0, (tmp_path / "head.log").read_text()
        attached = make_cfg(tmp_path / "attached", data_dir, *args)
        pid, out = run_sparsyfed(
            tmp_path / "attached.log", *command_line(args, data_dir),
            f"output_dir={attached.output_dir}", f"simulation.ray_address=127.0.0.1:{port}",
        )  # fmt: skip
        # The driver and the ClientApp workers ran in the cluster: its logs name them.
        logs = sorted(p.name for p in (temp / "session_latest" / "logs").glob("*"))
        driver_logs = [
            n for n in logs if n.startswith("python-core-driver-") and n.endswith(f"_{pid}.log")
        ]
        worker_logs = [n for n in logs if n.startswith("worker-") and "-01000000-" in n]
    finally:
        survivors = stop_cluster(head.pid, temp)
        shutil.rmtree(temp, ignore_errors=True)
    assert survivors == [], f"Ray processes of the test cluster left running: {survivors}"

    banner = [line for line in out.splitlines() if line.startswith("device: ")]
    assert len(banner) == 1, out
    assert f":{port} (simulation.ray_address), 1 node, 2 CPUs" in banner[0], banner
    assert banner[0].startswith("device: cpu (server), cpu (clients), ray: attached to ")
    assert driver_logs and worker_logs, logs

    assert (tmp_path / "attached" / "run" / "summary.json").is_file()
    assert compare(tmp_path / "bare" / "run", tmp_path / "attached" / "run") == []
    assert_every_fault_met(attached, out)
