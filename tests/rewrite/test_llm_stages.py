"""SGCR / SCOR parsing and post-filters on recorded answers (scripted backend, no model)."""

from __future__ import annotations

import pytest

import llmkit
from llmkit_rewrite_code.codeblock import find_code_blocks, pick_program
from llmkit_rewrite_code.sgcr import parse_rating
from llmkit_rewrite_code.pipeline import build_pipeline
from llmkit_rewrite_code.selfcontained import unresolved_names

from tests.rewrite import answers
from llmkit.testing import ScriptedBackend

SNIPPET = "def m(v):\n    return sum(v) / len(v)\n\nprint(m([1, 2, 3]))\n"


def run(stages: str, replies, records=None, **kwargs):
    backend = ScriptedBackend(replies, max_model_len=kwargs.pop("max_model_len", None))
    chain = build_pipeline(stages, "text", llmkit.BackendOptions(model="scripted"), backend=backend, **kwargs)
    records = records if records is not None else [{"id": 1, "text": SNIPPET}]
    chain.open()
    try:
        return chain.process(records), backend
    finally:
        chain.close()


def test_well_formed_answer_rewrites_the_field_and_parses_the_rating():
    (out,), backend = run("sgcr", [answers.WELL_FORMED], keep_original=True)
    assert out["text"] == answers.PROGRAM
    assert out["original_text"] == SNIPPET
    assert out["sgcr_score"] == 4.0
    assert out["stages"] == ["sgcr"]
    params = backend.params[0]
    assert (params.temperature, params.top_p, params.max_tokens) == (0.2, 0.7, 8192)
    prompt = backend.prompts[0]
    assert prompt[0]["role"] == "user" and SNIPPET in prompt[0]["content"]


def test_swallowcode_budget_is_capped_by_the_backend_to_the_context(tiny_llama):
    """The stage asks for SwallowCode's 8192 new tokens; a model with a 96-token context gets a
    completion that fits what the prompt leaves, not an error."""
    from llmkit.backends.hf import HFBackend
    from llmkit_rewrite_code.sgcr import SgcrStep

    options = llmkit.BackendOptions(model=str(tiny_llama), backend="hf", max_model_len=96, chat=False)
    with HFBackend(options) as backend:
        step = SgcrStep("text", llmkit.LazyBackend(options, backend))
        params = step.params
        assert params.max_tokens == 8192
        prompt = "def f(x):\n    return x\n"
        [result] = backend.generate([step.chat_prompt(prompt)], params)
        assert result.error is None
        assert len(result.prompt_token_ids) + len(result.completions[0].token_ids) <= 96


@pytest.mark.parametrize(
    ("answer", "reason"),
    [(answers.NO_BLOCK, "no_code_block"), (answers.TRUNCATED, "no_code_block"),
     (answers.QUOTED_THEN_CUT, "no_code_block"),
     (answers.BROKEN, "rewrite_syntax"), (answers.SHORT, "too_short"), (answers.REPETITIVE, "repetition")],
)
def test_post_filters(answer, reason):
    (out,), _ = run("sgcr", [answer])
    assert isinstance(out, llmkit.Reject) and out.reason == reason and out.stage == "sgcr"


def test_truncated_answer_says_so():
    assert find_code_blocks(answers.TRUNCATED).unclosed
    (out,), _ = run("sgcr", [answers.TRUNCATED])
    assert "ends inside a code block" in out.detail


def test_two_blocks_take_the_last_python_block():
    assert pick_program(answers.TWO_BLOCKS).code == answers.PROGRAM
    (out,), _ = run("sgcr", [answers.TWO_BLOCKS])
    assert out["text"] == answers.PROGRAM and out["sgcr_score"] == 7.0
    # a later block in another language does not count; untagged blocks only when no python one
    text = answers.TWO_BLOCKS + "\n```bash\npython mean.py\n```\n"
    assert pick_program(text).code == answers.PROGRAM
    assert pick_program("```\nx = 1\n```\n```\ny = 2\n```").code == "y = 2\n"


def test_rating_parsing():
    assert parse_rating("Rating: 8/10\n```python\n```") == 8.0
    assert parse_rating("rating 6.5 out of 10") == 6.5
    assert parse_rating("no score here\n```python\n# Rating: 9/10\n```") is None
    assert parse_rating("Rating: 42/10") is None


def test_sgcr_then_scor_with_unresolved_names_and_require_self_contained():
    (out,), _ = run("sgcr,scor", [answers.WELL_FORMED, answers.UNRESOLVED], keep_original=True)
    assert out["unresolved_names"] == ["OFFSET", "helper"]
    assert out["stages"] == ["sgcr", "scor"] and out["original_text"] == SNIPPET
    (rejected,), _ = run("scor", [answers.UNRESOLVED], require_self_contained=True)
    assert rejected.reason == "not_self_contained" and "OFFSET" in rejected.detail
    (kept,), _ = run("scor", [answers.WELL_FORMED], require_self_contained=True)
    assert kept["unresolved_names"] == []


def test_unresolved_names_against_a_naive_reading():
    code = "import os\nfrom x import y\n\ndef f(a):\n    return a + b + len(os.sep) + y + __file__\n\n" \
           "class C:\n    z = 1\n    def m(self):\n        return z\n\nprint([i for i in range(3)], missing(), C)\n"
    assert unresolved_names(code) == ["b", "missing", "z"]  # z: class bodies do not enclose methods


def test_match_case_captures_are_bound_in_their_scope():
    code = (
        "def f(p):\n    match p:\n        case (a, b):\n            return a + b\n"
        "        case {'k': v, **rest}:\n            return v, rest\n"
        "        case [x, *others] if x:\n            return others\n"
        "        case Point(x=px) as whole:\n            return px, whole\n"
        "def g():\n    return a\n"
    )
    assert unresolved_names(code) == ["Point", "a"]  # a in g: f's capture does not reach it


def test_missing_field_skips_the_model_and_other_records_go_through():
    records = [{"id": 1}, {"id": 2, "text": 5}, {"id": 3, "text": SNIPPET}]
    outs, backend = run("sgcr", [answers.WELL_FORMED], records=records)
    assert [o.reason for o in outs[:2]] == ["missing_field", "missing_field"]
    assert outs[2]["text"] == answers.PROGRAM and len(backend.prompts) == 1


def test_too_long_prompt_is_rejected():
    (out,), _ = run("sgcr", [answers.WELL_FORMED], max_model_len=50)
    assert out.reason == "too_long"


def test_stages_field_is_extended_across_jobs():
    records = [{"id": 1, "text": SNIPPET, "stages": ["syntax", "lint"]}]
    (out,), _ = run("sgcr", [answers.WELL_FORMED], records=records)
    assert out["stages"] == ["syntax", "lint", "sgcr"]


def test_llm_stages_keep_input_fields_and_replace_only_their_own():
    records = [
        {"id": 1, "text": SNIPPET, "sgcr_score": "A+"},  # input data: sgcr never ran on this record
        {"id": 2, "text": SNIPPET, "stages": None},
        {"id": 3, "text": SNIPPET, "stages": ["sgcr"], "sgcr_score": 2.0},  # sgcr's own: a re-run replaces it
    ]
    outs, backend = run("sgcr", [answers.WELL_FORMED], records=records)
    assert [(o.reason, "'sgcr_score'" in o.detail) for o in outs[:1]] == [("field_exists", True)]
    assert outs[1].reason == "field_exists" and "'stages'" in outs[1].detail
    assert outs[2]["sgcr_score"] == 4.0 and outs[2]["stages"] == ["sgcr", "sgcr"]
    assert len(backend.prompts) == 1  # the rejected records never reached the model
    (out,), backend = run("scor", [answers.WELL_FORMED], records=[{"text": SNIPPET, "unresolved_names": "see notes"}])
    assert out.reason == "field_exists" and "'unresolved_names'" in out.detail and backend.prompts == []


def test_missing_libcst_stops_scor_before_the_model(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "libcst", None)  # makes `import libcst` fail as if not installed
    with pytest.raises(llmkit.MissingDependency, match=r"scor.*pip install 'llmkit\[rewrite\]'") as caught:
        run("sgcr,scor", [answers.WELL_FORMED])
    assert caught.value.exit_code == 69


def test_user_prompt_file_replaces_the_default(tmp_path):
    prompt = tmp_path / "mine.txt"
    prompt.write_text("Improve:\n{code}\n")
    _, backend = run("sgcr", [answers.WELL_FORMED], sgcr_prompt=prompt)
    assert backend.prompts[0][0]["content"] == f"Improve:\n{SNIPPET}\n"
    bad = tmp_path / "bad.txt"
    bad.write_text("Improve {snippet}\n")
    with pytest.raises(llmkit.UsageError):
        run("sgcr", [answers.WELL_FORMED], sgcr_prompt=bad)


def test_llm_stage_without_model_is_a_usage_error():
    with pytest.raises(llmkit.UsageError, match="--model"):
        build_pipeline("syntax,sgcr", "text", llmkit.BackendOptions())
    with pytest.raises(llmkit.UsageError, match="unknown stage"):
        build_pipeline("syntax,lnt", "text", llmkit.BackendOptions())
