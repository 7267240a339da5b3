"""The command end to end: syntax and bad inputs, exit codes, and the real hf backend on a tiny model."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from llmkit.testing import write_jsonl
from llmkit_rewrite_code.syntax import SyntaxStep

from tests.teach import teach


def llmkit_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "llmkit", *args], capture_output=True, cwd=cwd)


def test_syntax_stage_on_known_snippets():
    step = SyntaxStep("code")
    ok, bad_indent, bad, empty, missing, wrong_type, nul = step.process([
        {"code": "x = 1\n"}, {"code": "def f():\nreturn 1\n"}, {"code": "print 'py2'\n"},
        {"code": "\n  \n"}, {}, {"code": ["x"]}, {"code": "x = 1\0\n"}])
    assert ok == {"code": "x = 1\n", "stages": ["syntax"]}
    assert bad_indent.reason == "syntax" and "IndentationError" in bad_indent.detail and "line 2" in bad_indent.detail
    assert bad.reason == "syntax" and "line 1" in bad.detail
    assert empty.reason == "empty"
    assert missing.reason == wrong_type.reason == "missing_field"
    assert nul.reason == "syntax"


def test_lone_surrogate_inside_the_code_reaches_no_encoder():
    # a str holding a real lone surrogate (only possible when called from Python): rejected, not crashed
    (out,) = SyntaxStep("text").process([{"text": "x = '\ud800'\n"}])
    assert out.reason == "syntax" and "surrogate" in out.detail


@pytest.mark.slow  # lints a record of several MB in pylint workers
def test_bad_inputs_through_the_cli(tmp_path):
    # several MB: a big data literal (pylint's time grows with statements, not bytes)
    big = 'TABLE = """\n' + "0123456789abcdef " * 200_000 + '\n"""\nprint(len(TABLE))\n'
    records = [
        {"id": 1},  # missing
        {"id": 2, "text": 3},  # not a string
        {"id": 3, "text": ""},  # empty
        {"id": 4, "text": big},  # several MB
        {"id": 5, "text": "s = '\\ud800'  # an escape in the source is fine\nprint(s)\n"},
    ]
    assert len(big) > 3_000_000
    data = write_jsonl(tmp_path / "in.jsonl", records)
    done = llmkit_cli("rewrite-code", "--stages", "syntax,lint", "--workers", "1", "-i", str(data),
                      "--rejects", str(tmp_path / "rej.jsonl"), "-o", str(tmp_path / "out.jsonl"))
    assert done.returncode == 0, done.stderr.decode()
    rejects = {r["id"]: r["reject"] for r in map(orjson.loads, (tmp_path / "rej.jsonl").read_bytes().splitlines())}
    outs = {r["id"]: r for r in map(orjson.loads, (tmp_path / "out.jsonl").read_bytes().splitlines())}
    assert rejects[1]["reason"] == rejects[2]["reason"] == "missing_field"
    assert rejects[3]["reason"] == "empty"
    assert 4 in outs, rejects.get(4)
    assert outs[4]["lint_raw_score"] == 10.0 and outs[4]["stages"] == ["syntax", "lint"]
    assert outs[5]["text"] == records[4]["text"]


def test_lone_surrogate_escape_in_json_is_rejected_alone(tmp_path):
    """A JSON string with a lone surrogate escape is valid JSON but not Unicode: the core rejects
    that record as invalid_unicode (kept whole in the rejects) and the run goes on."""
    import json

    data = tmp_path / "in.jsonl"
    data.write_bytes(b'{"id": 1, "text": "x = 1\\n"}\n{"id": 2, "text": "x = \'\\ud800\'\\n"}\n')
    done = llmkit_cli("rewrite-code", "--stages", "syntax", "-i", str(data), "--rejects", str(tmp_path / "rej.jsonl"))
    assert done.returncode == 0
    assert [orjson.loads(line)["id"] for line in done.stdout.splitlines()] == [1]
    (reject,) = map(json.loads, (tmp_path / "rej.jsonl").read_text().splitlines())
    assert reject["reject"]["reason"] == "invalid_unicode" and reject["text"] == "x = '\ud800'\n"
    assert reject["reject"]["source"] == f"{data}:2"


def test_unknown_stage_is_a_usage_error(tmp_path):
    data = write_jsonl(tmp_path / "in.jsonl", [{"text": "x = 1\n"}])
    assert llmkit_cli("rewrite-code", "--stages", "syntax,lnt", "-i", str(data)).returncode == 2
    assert llmkit_cli("rewrite-code", "--stages", "sgcr", "-i", str(data)).returncode == 2  # no --model


def test_missing_pylint_stops_before_any_work_with_exit_69(tmp_path):
    """Without the rewrite extra the lint stage is exit 69 with the pip command, before any
    record is read: not a worker crash reported as a bug (exit 70)."""
    import os

    shadow = tmp_path / "shadow" / "pylint"  # first on the path, in the workers too: pylint "is not installed"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'pylint'\", name='pylint')\n")
    data = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "text": "x = 1\n"}])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shadow.parent), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "llmkit", "rewrite-code", "--stages", "syntax,lint", "--workers", "1",
                           "-i", str(data), "-o", str(tmp_path / "out.jsonl")], capture_output=True, env=env)
    err = done.stderr.decode()
    assert done.returncode == 69, err
    assert "the lint stage" in err and "pip install 'llmkit[rewrite]'" in err and "Traceback" not in err
    assert (tmp_path / "out.jsonl").read_bytes() == b""  # stopped before the first record
    assert "in 0," in err


@pytest.mark.slow  # starts pylint workers in a child llmkit
def test_lint_keeps_input_fields_and_replaces_only_its_own(tmp_path):
    code = "def f(x):\n    return x + 1\n\nprint(f(1))\n"
    records = [
        {"id": 1, "text": code, "lint_score": "reviewer's grade"},  # input data that lint would overwrite
        {"id": 2, "text": code, "stages": "handwritten"},  # not the list rewrite-code appends to
        {"id": 3, "text": code, "stages": ["syntax", "lint"], "lint_score": 3.0},  # lint's own: a re-run replaces it
    ]
    data = write_jsonl(tmp_path / "in.jsonl", records)
    done = llmkit_cli("rewrite-code", "--stages", "syntax,lint", "--workers", "1", "-i", str(data),
                      "--rejects", str(tmp_path / "rej.jsonl"), "-o", str(tmp_path / "out.jsonl"))
    assert done.returncode == 0, done.stderr.decode()
    rejects = {r["id"]: r for r in map(orjson.loads, (tmp_path / "rej.jsonl").read_bytes().splitlines())}
    assert rejects[1]["reject"]["reason"] == "field_exists" and rejects[1]["reject"]["stage"] == "lint"
    assert "'lint_score'" in rejects[1]["reject"]["detail"] and rejects[1]["lint_score"] == "reviewer's grade"
    assert rejects[2]["reject"]["reason"] == "field_exists" and rejects[2]["reject"]["stage"] == "syntax"
    (out,) = map(orjson.loads, (tmp_path / "out.jsonl").read_bytes().splitlines())
    assert out["id"] == 3 and out["lint_score"] == out["lint_raw_score"] == 10.0
    assert out["stages"] == ["syntax", "lint", "syntax", "lint"]


@pytest.mark.slow  # generates with a model in a child llmkit
def test_end_to_end_on_tiny_llama_hf(tmp_path, tiny_llama):
    """A random tiny model writes garbage: what matters is that every record comes out, either
    rewritten with its fields or rejected by a documented LLM-stage reason."""
    snippet = "def area(w, h):\n    return w * h\n\nprint(area(2, 3))\n"
    data = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "text": snippet} for i in range(3)] + [{"id": 9}])
    done = llmkit_cli("rewrite-code", "--stages", "syntax,sgcr,scor", "--model", str(tiny_llama), "--backend", "hf",
                      "--max-tokens", "24", "--seed", "0", "-i", str(data), "-o", str(tmp_path / "out.jsonl"),
                      "--rejects", str(tmp_path / "rej.jsonl"))
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    outs = [orjson.loads(x) for x in (tmp_path / "out.jsonl").read_bytes().splitlines()]
    rejects = [orjson.loads(x) for x in (tmp_path / "rej.jsonl").read_bytes().splitlines()]
    assert len(outs) + len(rejects) == 4
    reasons = {r["id"]: (r["reject"]["stage"], r["reject"]["reason"]) for r in rejects}
    assert reasons.pop(9) == ("syntax", "missing_field")
    llm_reasons = {"no_code_block", "rewrite_syntax", "too_short", "repetition", "too_long"}
    assert all(stage == "sgcr" and reason in llm_reasons for stage, reason in reasons.values())
    for out in outs:
        assert out["stages"] == ["syntax", "sgcr", "scor"] and "unresolved_names" in out


TAUGHT_PROGRAM = ('def area(width: float, height: float) -> float:\n    """Area of a rectangle."""\n'
                  "    return width * height\n\n\nprint(area(2.0, SCALE))\n")


@pytest.fixture(scope="module")
def code_teacher(tiny_llama, tmp_path_factory):
    """The tiny model taught to answer both stages' prompts with a rated, fenced program."""
    import llmkit

    snippet = "def area(w, h):\n    return w * h\n\nprint(area(2, 3))\n"
    sgcr = llmkit.load_prompt("llmkit_rewrite_code", "sgcr", required={"code"}).render(code=snippet)
    scor = llmkit.load_prompt("llmkit_rewrite_code", "scor", required={"code"}).render(code=TAUGHT_PROGRAM)
    answer = f"Rating: 8/10\n\n```python\n{TAUGHT_PROGRAM}```\n"
    return snippet, teach(tiny_llama, [sgcr, scor], answer, tmp_path_factory.mktemp("code_teacher"))


@pytest.mark.slow  # trains a tiny model (code_teacher)
def test_end_to_end_a_useful_answer_goes_through_every_stage(tmp_path, code_teacher):
    """A taught model: the program of its answer is kept after sgcr and scor, rated, with the
    name it leaves undefined listed, on the hf backend end to end."""
    snippet, model = code_teacher
    data = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "text": snippet}])
    done = llmkit_cli("rewrite-code", "--stages", "syntax,lint,sgcr,scor", "--lint-threshold", "0", "--model", str(model),
                      "--backend", "hf", "--temperature", "0", "--max-tokens", "160", "-i", str(data), "-q")
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    (out,) = [orjson.loads(x) for x in done.stdout.splitlines()]
    assert out["stages"] == ["syntax", "lint", "sgcr", "scor"]
    assert out["text"] == TAUGHT_PROGRAM and out["sgcr_score"] == 8.0
    assert out["unresolved_names"] == ["SCALE"]
