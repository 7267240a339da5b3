"""The lint stage against an independent reference: a pylint subprocess per snippet."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest

from llmkit_rewrite_code.lint import LintStep
from llmkit_rewrite_code.lint_worker import SnippetLinter, comment_ratio

from tests.rewrite.reference_pylint import pylint_subprocess_score, reference_penalised, stdlib_sample

SAMPLE = 10  # real stdlib modules compared with the subprocess (each subprocess takes ~1-2 s)


@pytest.fixture(scope="module")
def lint_step():
    step = LintStep("text", threshold=0.0, workers=2)
    step.open()
    yield step
    step.close()


def test_comment_ratio_counts_every_token_as_swallowcode_does():
    # tokens: NAME OP NUMBER COMMENT NEWLINE ENDMARKER -> 1 comment of 6
    assert comment_ratio("x = 1  # one\n") == pytest.approx(1 / 6)
    assert comment_ratio("") == 0.0
    assert comment_ratio('s = """never closed\n') == 0.0  # tokenizer error: no penalty


def test_lint_score_equals_pylint_subprocess_on_real_files(lint_step):
    codes = stdlib_sample(SAMPLE)
    outcomes = lint_step.process([{"text": code} for code in codes])
    with ThreadPoolExecutor(2) as pool:
        references = list(pool.map(pylint_subprocess_score, codes))
    for code, outcome, raw in zip(codes, outcomes, references, strict=True):
        assert raw is not None
        assert outcome["lint_raw_score"] == pytest.approx(raw, abs=1e-9)
        assert outcome["lint_score"] == pytest.approx(reference_penalised(code, raw), abs=0.01)


def test_known_snippets_and_threshold():
    step = LintStep("text", threshold=7.0, workers=1)
    clean = '"""Doc."""\n\n\ndef add(first: int, second: int) -> int:\n    """Sum."""\n    return first + second\n'
    noisy = "import os\nimport sys\ndef f(a, b):\n    x = 1\n    return a\n"  # unused imports/args/variable
    only_comments = "# nothing\n# here\n"
    try:
        kept, low, none = step.process([{"text": clean}, {"text": noisy}, {"text": only_comments}])
    finally:
        step.close()
    assert kept["lint_raw_score"] == 10.0 and kept["lint_score"] == 10.0 and kept["stages"] == ["lint"]
    assert low.reason == "lint" and "< 7" in low.detail
    assert pylint_subprocess_score(noisy) < 7.0
    assert none.reason == "lint" and "no statement" in none.detail


def test_cached_modules_do_not_leak_between_snippets(tmp_path, monkeypatch):
    """An attribute assigned on a stdlib module in one snippet must not silence no-member in the next."""
    monkeypatch.chdir(tmp_path)
    linter = SnippetLinter(str(tmp_path))
    reader = "import os\nprint(os.llmkit_flag)\n"
    writer = "import os\nos.llmkit_flag = 1\nprint(os.sep)\n"
    fresh = linter.score(reader).raw_score
    linter.score(writer)
    after = linter.score(reader).raw_score
    assert fresh == after == pylint_subprocess_score(reader) == 0.0


def test_hostile_pylintrc_in_cwd_changes_nothing(tmp_path):
    """A pylintrc / pyproject in the working directory (with an init-hook that would run code)
    neither changes the score nor runs."""
    marker = tmp_path / "hook_ran"
    hook = f"open({str(marker)!r}, 'w').write('x')"
    (tmp_path / "pylintrc").write_text(f"[MAIN]\ninit-hook={hook}\ndisable=all\nevaluation=10.0\n")
    (tmp_path / ".pylintrc").write_text(f"[MAIN]\ninit-hook={hook}\ndisable=all\n")
    (tmp_path / "pyproject.toml").write_text('[tool.pylint.main]\ndisable = ["all"]\n')
    (tmp_path / "os_helpers.py").write_text("raise SystemExit('imported!')\n")
    noisy = "import os_helpers\nimport sys\ndef f(a, b):\n    x = 1\n    return a\n"
    data = tmp_path / "in.jsonl"
    data.write_bytes(orjson.dumps({"text": noisy}) + b"\n")
    env = {**os.environ, "PYLINTRC": str(tmp_path / "pylintrc")}
    done = subprocess.run([sys.executable, "-m", "llmkit", "rewrite-code", "--stages", "lint", "--lint-threshold", "0",
                           "--workers", "1", "-i", str(data), "-q"], capture_output=True, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr.decode()
    record = orjson.loads(done.stdout)
    assert record["lint_raw_score"] == pylint_subprocess_score(noisy) < 10.0
    assert not marker.exists()
