"""Optional dependencies: missing is a pip hint; installed but broken says what broke."""

from __future__ import annotations

import sys

import pytest

from llmkit.errors import BackendUnavailable, MissingDependency, require


def test_missing_module_names_the_extra():
    with pytest.raises(MissingDependency, match=r"pip install 'llmkit\[vllm\]'"):
        require("llmkit_no_such_module", "vllm", "the vllm backend")


def test_installed_but_broken_module_says_why(tmp_path, monkeypatch):
    (tmp_path / "llmkit_broken_mod.py").write_text("import llmkit_absent_native_lib\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(BackendUnavailable) as caught:
        require("llmkit_broken_mod", "vllm", "the vllm backend")
    assert not isinstance(caught.value, MissingDependency)
    assert "installed but fails to import" in str(caught.value) and "llmkit_absent_native_lib" in str(caught.value)
    assert caught.value.exit_code == 69
    sys.modules.pop("llmkit_broken_mod", None)
