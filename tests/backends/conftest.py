"""Backend fixtures: one hf model, one in-process vLLM engine and one vLLM server per session.

vLLM takes half a minute or more to start on two CPU cores, so each engine starts once. The server
is launched as soon as collection shows a test will need it, so it boots while other tests run.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import require_vllm

# Small KV cache (GiB) for every vLLM engine the tests start, in this process and in the server.
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
# vLLM's CPU attention wants KV blocks in multiples of 32; eager mode skips a long torch.compile.
TEST_ENGINE_ARGS = {"enforce_eager": True, "block_size": 32}
SERVER_START_TIMEOUT_S = 300


@dataclass
class ServerHandle:
    process: subprocess.Popen
    url: str
    model_path: Path
    log_path: Path


_server: ServerHandle | None = None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _vllm_importable() -> bool:
    try:
        import vllm  # noqa: F401
    except Exception:
        return False
    return True


def _launch_server() -> ServerHandle:
    from llmkit.tiny_model import TinyModelSpec, build_tiny_model

    workdir = Path(tempfile.mkdtemp(prefix="llmkit-vllm-server-"))
    # the same spec and seed as the session's tiny_llama fixture, so it is the same model
    model_path = build_tiny_model(workdir / "tiny_llama", TinyModelSpec(arch="llama", seed=0))
    port = _free_port()
    log_path = workdir / "server.log"
    command = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(model_path), "--host", "127.0.0.1", "--port", str(port),
        "--dtype", "float32", "--enforce-eager", "--block-size", "32", "--seed", "0",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return ServerHandle(process, f"http://127.0.0.1:{port}/v1", model_path, log_path)


@pytest.hookimpl(trylast=True)  # after `-m "not slow"` deselected them: no server for the fast tier
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    global _server
    wanted = any("vllm_server" in getattr(item, "fixturenames", ()) for item in items)
    if wanted and _server is None and _vllm_importable():
        _server = _launch_server()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _server is not None and _server.process.poll() is None:
        _server.process.terminate()
        try:
            _server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            _server.process.kill()


@pytest.fixture(scope="session")
def vllm_server() -> ServerHandle:
    """A running ``vllm.entrypoints.openai.api_server`` on a tiny Llama model (float32)."""
    require_vllm()
    if _server is None:
        pytest.fail("the vLLM server was not launched at collection")
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if _server.process.poll() is not None:
            tail = _server.log_path.read_text(errors="replace")[-3000:]
            pytest.fail(f"the vLLM server exited with {_server.process.returncode}:\n{tail}")
        try:
            if httpx.get(f"{_server.url}/models", timeout=2).status_code == 200:
                return _server
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail(f"the vLLM server did not answer within {SERVER_START_TIMEOUT_S} s; log: {_server.log_path}")


@pytest.fixture(scope="session")
def hf_backend(tiny_llama):
    from llmkit.backends import BackendOptions
    from llmkit.backends.hf import HFBackend

    backend = HFBackend(BackendOptions(model=str(tiny_llama), backend="hf", dtype="float32", device="cpu"))
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def vllm_backend(tiny_llama):
    """The session's one in-process vLLM engine (vllm-cpu here), on the tiny Llama in float32."""
    require_vllm()
    from llmkit.backends import BackendOptions
    from llmkit.backends.vllm import VLLMBackend

    backend = VLLMBackend(BackendOptions(model=str(tiny_llama), backend="vllm", dtype="float32", seed=0), TEST_ENGINE_ARGS)
    yield backend
    backend.close()
