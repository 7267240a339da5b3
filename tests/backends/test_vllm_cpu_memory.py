"""vLLM on the CPU: a KV cache that fits the free memory when the user did not size it, and an
engine that cannot start named by its own cause, not "see root cause above"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from llmkit.backends import _kv_cache
from llmkit.backends._kv_cache import kv_cache_bytes, sized_kv_cache, weights_bytes
from tests.background import Background
from tests.conftest import require_vllm

GIB = 1 << 30
MIB = 1 << 20


def test_half_of_the_free_memory_after_the_weights():
    assert kv_cache_bytes(10 * GIB, 24 * GIB, 2 * GIB, 0.9) == 4 * GIB
    # never more than vLLM's own share of the whole memory
    assert kv_cache_bytes(100 * GIB, 24 * GIB, 0, 0.9) == int(0.9 * 24 * GIB) // (64 * MIB) * (64 * MIB)
    # at least 256 MiB, so that vLLM itself says when not even that fits
    assert kv_cache_bytes(300 * MIB, 24 * GIB, 2 * GIB, 0.9) == 256 * MIB
    assert kv_cache_bytes(GIB + 100 * MIB, 24 * GIB, 0, 0.9) % (64 * MIB) == 0


def test_weights_of_a_local_folder_are_counted(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"x" * 1000)
    (tmp_path / "pytorch_model.bin").write_bytes(b"x" * 24)
    (tmp_path / "config.json").write_text("{}")
    assert weights_bytes(str(tmp_path)) == 1024
    assert weights_bytes("org/a-hub-name") == 0


def test_the_user_size_wins_and_the_choice_is_said(monkeypatch, capsys):
    monkeypatch.setattr(_kv_cache, "memory_available", lambda: 10 * GIB)
    monkeypatch.setattr(_kv_cache, "memory_total", lambda: 24 * GIB)
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    chosen = sized_kv_cache({"model": "org/name", "gpu_memory_utilization": 0.9})
    assert chosen["kv_cache_memory_bytes"] == 5 * GIB
    said = capsys.readouterr().err
    assert "5.00 GiB of KV cache" in said and "VLLM_CPU_KVCACHE_SPACE" in said and said.count("\n") == 1
    assert sized_kv_cache({"model": "m", "kv_cache_memory_bytes": 123})["kv_cache_memory_bytes"] == 123
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "2")
    assert "kv_cache_memory_bytes" not in sized_kv_cache({"model": "m"})
    assert capsys.readouterr().err == ""


def test_a_childs_exception_line_is_found_and_still_reaches_stderr():
    script = textwrap.dedent(
        """
        import subprocess, sys
        from llmkit.backends._engine_log import tail_stderr
        with tail_stderr() as tail:
            subprocess.run([sys.executable, "-c", "import sys; print('(EngineCore pid=7) loading', file=sys.stderr); raise ValueError('no room for 9 GiB')"])
            print("parent line", file=sys.stderr)
        print(tail.cause(exclude="Engine core initialization failed. See root cause above."))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout.strip() == "ValueError: no room for 9 GiB"
    assert "Traceback" in done.stderr and "no room for 9 GiB" in done.stderr and "parent line" in done.stderr


def _vllm_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "VLLM_CPU_KVCACHE_SPACE"}
    env["LLMKIT_VLLM_ENGINE_ARGS"] = json.dumps({"enforce_eager": True, "block_size": 32})
    env.update(extra)
    return env


def _rewrite_math(tiny_llama, env) -> Background:
    stdin = b'{"id": 1, "text": "What is 2 + 3?"}\n'
    return Background(
        [sys.executable, "-m", "llmkit", "rewrite-math", "--backend", "vllm", "--model", str(tiny_llama),
         "--dtype", "float32", "--max-tokens", "4"],
        input=stdin, env=env, timeout=900,
    )


@pytest.fixture(scope="module")
def engine_runs(tiny_llama) -> Iterator[dict[str, Background]]:
    """Both runs started at once: an engine start is mostly one core's imports and set-up, so the
    two overlap where one after the other they added up (each still runs alone in its process)."""
    require_vllm()
    runs = {"unsized": _rewrite_math(tiny_llama, _vllm_env()),
            "too_big": _rewrite_math(tiny_llama, _vllm_env(VLLM_CPU_KVCACHE_SPACE="100000"))}
    yield runs
    for run in runs.values():
        run.stop()


@pytest.mark.slow
def test_an_unsized_cache_fits_and_the_engine_runs(engine_runs):
    done = engine_runs["unsized"].result()
    err = done.stderr.decode()
    assert done.returncode == 0, err[-3000:]
    assert "GiB of KV cache (half of the" in err


@pytest.mark.slow
def test_an_engine_that_cannot_start_is_named_by_its_cause(engine_runs):
    done = engine_runs["too_big"].result()
    err = done.stderr.decode()
    last = err.strip().splitlines()[-1]
    assert done.returncode == 69, err[-3000:]
    assert "vLLM could not open" in last and "Available memory" in last and "from the engine's log" in last
