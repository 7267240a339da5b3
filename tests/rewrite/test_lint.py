"""The lint stage against an independent reference: a pylint subprocess per snippet."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest

from llmkit_rewrite_code.lint import LintStep
from llmkit_rewrite_code.lint_worker import LintResult, WarmLinter, comment_ratio

from tests.rewrite.reference_pylint import pylint_subprocess_score, reference_penalised, stdlib_sample

SAMPLE = 10  # real stdlib modules compared with the subprocess (each subprocess takes ~1-2 s)
READER = "import os\nprint(os.llmkit_flag)\n"  # no-member: 0/10 in a fresh pylint
WRITER = "import os\nos.llmkit_flag = 1\nprint(os.sep)\n"  # records llmkit_flag in astroid's os tree


@pytest.fixture(scope="module")
def lint_step():
    step = LintStep("text", threshold=0.0, workers=1)  # one worker: every snippet meets the same warm state
    step.open()
    yield step
    step.close()


@pytest.fixture()
def small_linter(tmp_path, monkeypatch):
    """A warm linter in this process, prewarming only ``os`` (quick to build)."""
    monkeypatch.chdir(tmp_path)
    return WarmLinter(str(tmp_path), prewarm=("os",))


def test_comment_ratio_counts_every_token_as_swallowcode_does():
    # tokens: NAME OP NUMBER COMMENT NEWLINE ENDMARKER -> 1 comment of 6
    assert comment_ratio("x = 1  # one\n") == pytest.approx(1 / 6)
    assert comment_ratio("") == 0.0
    assert comment_ratio('s = """never closed\n') == 0.0  # tokenizer error: no penalty


@pytest.mark.slow  # runs pylint itself on real files to compare
def test_lint_score_equals_pylint_subprocess_on_real_files(lint_step):
    codes = stdlib_sample(SAMPLE)
    outcomes = lint_step.process([{"text": code} for code in codes])
    with ThreadPoolExecutor(2) as pool:
        references = list(pool.map(pylint_subprocess_score, codes))
    for code, outcome, raw in zip(codes, outcomes, references, strict=True):
        assert raw is not None
        assert outcome["lint_raw_score"] == pytest.approx(raw, abs=1e-9)
        assert outcome["lint_score"] == pytest.approx(reference_penalised(code, raw), abs=0.01)


def test_known_snippets_and_threshold(lint_step, monkeypatch):
    monkeypatch.setattr(lint_step, "threshold", 7.0)
    clean = '"""Doc."""\n\n\ndef add(first: int, second: int) -> int:\n    """Sum."""\n    return first + second\n'
    noisy = "import os\nimport sys\ndef f(a, b):\n    x = 1\n    return a\n"  # unused imports/args/variable
    only_comments = "# nothing\n# here\n"
    kept, low, none = lint_step.process([{"text": clean}, {"text": noisy}, {"text": only_comments}])
    assert kept["lint_raw_score"] == 10.0 and kept["lint_score"] == 10.0 and kept["stages"] == ["lint"]
    assert low.reason == "lint" and "< 7" in low.detail
    assert pylint_subprocess_score(noisy) < 7.0
    assert none.reason == "lint" and "no statement" in none.detail


def test_unparsable_and_non_unicode_snippets_are_rejects_that_say_why(lint_step):
    """lint without the syntax stage (and the Python API, which the core's Unicode check does not
    guard): a reject naming the cause, and the rest of the batch scored."""
    broken, surrogate, fine = lint_step.process([{"text": "def f(:\n    pass\n"}, {"text": "x = '\ud800'\n"},
                                                 {"text": "X = 1\n"}])
    assert broken.reason == "lint" and "could not parse" in broken.detail and "line 1" in broken.detail
    assert surrogate.reason == "lint" and "not Unicode text" in surrogate.detail
    assert fine["lint_raw_score"] == 10.0


def test_a_snippet_writing_into_a_prewarmed_module_does_not_reach_the_next(lint_step):
    """``os`` is prewarmed in the worker: the writer's ``os.llmkit_flag`` must stay in its own child."""
    before, _, after = lint_step.process([{"text": READER}, {"text": WRITER}, {"text": READER}])
    assert before["lint_raw_score"] == after["lint_raw_score"] == pylint_subprocess_score(READER) == 0.0


def test_the_leak_is_real_without_the_fork(small_linter):
    """Guards the test above against passing vacuously: linting in the warm process itself
    (no fork) does let the write leak, and the forked path does not."""
    fresh = small_linter.score(READER).raw_score
    small_linter.score(WRITER)
    assert small_linter.score(READER).raw_score == fresh == 0.0
    for code in (WRITER, READER):  # now in this process, as a cache-keeping linter would
        with open(small_linter.path, "w", encoding="utf-8") as handle:
            handle.write(code)
        leaked, _ = small_linter.lint_here()
    assert leaked == 10.0


def test_timeout_kills_the_child_and_crashes_are_reported(small_linter, monkeypatch):
    monkeypatch.setattr(small_linter, "lint_here", lambda: time.sleep(60))
    start = time.monotonic()
    slow = small_linter.score("x = 1\n", timeout=0.5)
    assert slow.timed_out and slow.raw_score is None and time.monotonic() - start < 30
    monkeypatch.setattr(small_linter, "lint_here", lambda: os.kill(os.getpid(), signal.SIGSEGV))
    segfault = small_linter.score("x = 1\n")
    assert segfault.error and "SIGSEGV" in segfault.detail

    def broken() -> None:
        raise ValueError("astroid bug")

    monkeypatch.setattr(small_linter, "lint_here", broken)
    failed = small_linter.score("x = 1  # c\n")
    assert failed.error and "ValueError: astroid bug" in failed.detail and failed.comment_ratio > 0
    monkeypatch.undo()
    assert small_linter.score("x = 1\n").raw_score == 10.0  # the worker goes on


def test_a_crashed_child_is_rejected_lint_error(lint_step):
    [outcome] = [lint_step._judge({"text": "x"}, LintResult(None, 0.0, "pylint crashed (killed by SIGSEGV)", error=True))]
    assert outcome.reason == "lint_error" and "SIGSEGV" in outcome.detail


@pytest.mark.slow  # runs pylint in child processes
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


def test_pool_workers_ignore_sigint_and_the_parent_keeps_its_handler(lint_step):
    """Ctrl-C reaches every process of the job: a worker that took it printed a KeyboardInterrupt
    traceback of its own. Workers ignore SIGINT (from their first line: the parent ignores it
    while it starts them) and are stopped by the parent; the parent still handles it."""
    workers = lint_step._pool.processes  # this pool's own processes (a vLLM engine of another test may be alive too)
    assert workers
    for worker in workers:
        with open(f"/proc/{worker.pid}/status") as status:
            ignored = int(next(line for line in status if line.startswith("SigIgn:")).split()[1], 16)
        assert ignored & (1 << (signal.SIGINT - 1)), f"worker {worker.pid} would take Ctrl-C"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
