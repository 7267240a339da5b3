"""A replica uses the driver's settings from its environment, not its node's: the API key named by
``--api-key-env``, set only in the shell that runs llmkit, reaches the server from replicas on
nodes started without it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from llmkit.testing import write_jsonl

pytestmark = [pytest.mark.ray, pytest.mark.slow]

#: an OpenAI-compatible server in the cluster's namespace: prints its URL, serves until its
#: standard input ends, then prints the Authorization header of every request it answered
SERVE = """
import json, sys
from tests.backends.fault_server import FaultServer
with FaultServer() as server:
    print(server.url, flush=True)
    sys.stdin.read()
    print(json.dumps([seen.headers.get("Authorization") for seen in server.posts]), flush=True)
"""


def test_the_api_key_of_the_drivers_environment_reaches_the_server_from_the_replicas(ray_cluster, tmp_path):
    repo = Path(__file__).resolve().parents[2]
    server = subprocess.Popen(ray_cluster.command([sys.executable, "-c", SERVE]), cwd=repo, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        data = write_jsonl(tmp_path / "in.jsonl", [{"id": n, "text": f"{n} + {n} = {2 * n}"} for n in range(4)])
        env = {**ray_cluster.env, "TEST_SERVICE_KEY": "sk-driver-only-123456"}  # not in the nodes' environment
        done = ray_cluster.llmkit([
            "rewrite-math", "--backend", "openai", "--base-url", url, "--model", "m", "--api-key-env", "TEST_SERVICE_KEY",
            "--batch-size", "1", "-i", str(data), "-o", str(tmp_path / "out"),
            "--executor", "ray", "--replicas", "2", "--cpus-per-replica", "1", "--stall-timeout", "300",
        ], env=env)  # fmt: skip
        assert done.returncode == 0, done.stderr.decode()[-3000:]
    finally:
        printed, _ = server.communicate(input="", timeout=60)
    authorizations = json.loads(printed.splitlines()[-1])
    assert len(authorizations) >= 4, printed
    assert set(authorizations) == {"Bearer sk-driver-only-123456"}
