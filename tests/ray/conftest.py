"""A real Ray cluster of two nodes on this machine, for the ``--executor ray`` tests.

Ray binds to the machine's network address whatever it is told, so the cluster lives in a
network namespace of its own (``unshare -n``, loopback up): there its only address is
127.0.0.1 and no test traffic leaves the machine. Each node has one CPU and declares one GPU
(which Ray takes on trust), so GPU placement is tested without one. The two nodes (``ray start --head``, then
``ray start --address`` as a second node) and every run of the CLI against them enter that
namespace with ``nsenter``. The cluster uses Ray's token authentication, with a token made for
the session. Making a namespace needs root (CI runs as root): elsewhere the tests skip, in CI
they fail.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import IN_CI

PORT = 6391


def _unavailable(why: str) -> None:
    if IN_CI:
        pytest.fail(f"the Ray tests must run in CI: {why}")
    pytest.skip(why)


@dataclass
class Cluster:
    holder: subprocess.Popen
    env: dict[str, str]
    temp: Path

    @property
    def folder(self) -> Path:
        """Where the nodes were started: a replica's working folder unless llmkit changes it."""
        return self.temp / "nodes"

    @property
    def tmp(self) -> Path:
        """The nodes' (and their workers') temporary folder ($TMPDIR): no other test writes there."""
        return self.temp / "tmp"

    @property
    def namespace(self) -> str:
        return f"/proc/{self.holder.pid}/ns/net"

    def command(self, args: list[str]) -> list[str]:
        """``args`` run inside the cluster's network namespace."""
        return ["nsenter", f"--net={self.namespace}", "--", *args]

    def llmkit(self, args: list[str], env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(self.command([sys.executable, "-m", "llmkit", *args]), env=env or self.env,
                              capture_output=True, timeout=600, check=False, **kwargs)

    def popen_llmkit(self, args: list[str]) -> subprocess.Popen:
        return subprocess.Popen(self.command([sys.executable, "-m", "llmkit", *args]), env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def pids(self) -> list[int]:
        """The processes in the cluster's namespace (the holder included), by process id."""
        mine = os.readlink(self.namespace)
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.readlink(f"/proc/{entry}/ns/net") == mine:
                        found.append(int(entry))
                except OSError:
                    continue
        return found

    def actor_pids(self) -> list[int]:
        """The Ray workers that hold a replica of the step (Ray names their processes so)."""
        found = []
        for pid in self.pids():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if cmdline.startswith(b"ray::StepActor"):
                found.append(pid)
        return found


def _ray_start(cluster: Cluster, args: list[str]) -> None:
    done = subprocess.run(cluster.command([str(Path(sys.executable).with_name("ray")), "start", *args,
                                           "--num-cpus", "1", "--num-gpus", "1", "--disable-usage-stats"]),
                          env=cluster.env, capture_output=True, timeout=300, check=False, cwd=cluster.folder)
    if done.returncode != 0:
        raise RuntimeError(f"ray start {' '.join(args)} failed: {done.stderr.decode()[-3000:]}")


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Cluster]:
    try:
        import ray  # noqa: F401
    except ImportError:
        _unavailable("ray is not installed (pip install 'llmkit[ray]')")
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("nsenter") or not shutil.which("ip"):
        _unavailable("a network namespace for the Ray cluster needs root, unshare, nsenter and ip")
    temp = Path(tempfile.mkdtemp(prefix="lkray", dir="/tmp"))  # short: Ray's socket paths have a limit
    ready = temp / "ready"
    holder = subprocess.Popen(["unshare", "-n", "bash", "-c", f"ip link set lo up && touch {ready} && exec sleep 3600"])
    token = uuid.uuid4().hex
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token, "RAY_ADDRESS": f"127.0.0.1:{PORT}",
           "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_AUTH_TOKEN_PATH", None)
    cluster = Cluster(holder, env, temp)
    cluster.folder.mkdir()
    cluster.tmp.mkdir()
    env["TMPDIR"] = str(cluster.tmp)
    try:
        for _ in range(100):
            if ready.exists() or holder.poll() is not None:
                break
            time.sleep(0.1)
        if not ready.exists():
            _unavailable("unshare -n could not make a network namespace with loopback up")
        head_env = {k: v for k, v in env.items() if k != "RAY_ADDRESS"}
        cluster.env = head_env
        _ray_start(cluster, ["--head", "--port", str(PORT), "--temp-dir", str(temp / "ray"), "--include-dashboard", "false"])
        _ray_start(cluster, ["--address", f"127.0.0.1:{PORT}"])
        cluster.env = env
        yield cluster
    finally:
        _stop(cluster)
        shutil.rmtree(temp, ignore_errors=True)


def _stop(cluster: Cluster) -> None:
    """Stop every process of the cluster's namespace, by process id (not ``ray stop``, which
    stops every Ray process of the machine's user)."""
    pids = [pid for pid in cluster.pids() if pid != cluster.holder.pid]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in pids):
            time.sleep(0.2)
    cluster.holder.kill()
    cluster.holder.wait()
