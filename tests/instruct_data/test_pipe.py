"""The whole recipe through hf on tiny models, as a shell runs it:
prepare | contrastive-gen | judge | select, with a tiny judge that answers "Fine. Score: 7"
(written into its weights), and counts that add up at every stage (in = out + rejected)."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import ok, read_jsonl, write_jsonl

ROOT = Path(__file__).resolve().parents[2]

CONVERSATIONS = [
    {"conversation_id": "a", "conversation": [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Red"}]},
    {"conversation_id": "b", "conversation": [{"role": "user", "content": "Say hello."}]},
    {"conversation_id": "c", "conversation": [{"role": "user", "content": "Name  a colour. "}]},  # duplicate of a
    {"conversation_id": "d", "conversation": [{"role": "user", "content": "   "}]},  # empty
    {"conversation_id": "e", "conversation": [{"role": "user", "content": "Write to NAME_1 for me."}]},  # redacted
    {"conversation_id": "f", "conversation": [{"role": "user", "content": "Count to three."}]},
    {"conversation_id": "g", "text": "no conversation"},  # missing_field
]
JUDGE_PROMPT = "Rate it.\nQ: {instruction}\nA: {response}"
JUDGE_ANSWER = "Fine. Score: 7"


@pytest.fixture(scope="module")
def piped(tmp_path_factory, tiny_llama):
    work = tmp_path_factory.mktemp("instruct_pipe")
    data = write_jsonl(work / "lmsys.jsonl", CONVERSATIONS)
    (work / "judge.txt").write_text(JUDGE_PROMPT)
    judge = scripted_judge(tiny_llama, JUDGE_ANSWER, work / "judge")
    llmkit = f"{shlex.quote(sys.executable)} -m llmkit"
    stages = [
        f"instruct-data prepare -i {data} --id-field conversation_id --rejects {work}/rej_prepare.jsonl",
        (f"contrastive-gen --backend hf --expert {tiny_llama} --n 2 --max-tokens 6 --temperature 1 --seed 0 "
         f"--system 'Answer briefly.' --rejects {work}/rej_gen.jsonl"),
        (f"instruct-data judge --backend hf --model {judge} --prompt {work}/judge.txt --max-tokens 12 "
         f"--rejects {work}/rej_judge.jsonl"),
        f"instruct-data select --min-score 7 --id-field conversation_id --rejects {work}/rej_select.jsonl",
    ]
    names = ["prepare", "gen", "judge", "select"]
    # tee keeps what each stage wrote, so the counts can be checked stage by stage
    pipe = " | ".join(f"{llmkit} {stage} -q | tee {work}/out_{name}.jsonl" for stage, name in zip(stages, names))
    done = subprocess.run(["bash", "-o", "pipefail", "-c", pipe + " > /dev/null"], capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return work, judge


def stage(work, name):
    return read_jsonl(work / f"out_{name}.jsonl"), read_jsonl(work / f"rej_{name}.jsonl")


def test_counts_add_up_at_every_stage(piped):
    work, _ = piped
    prepared, rejected = stage(work, "prepare")
    assert len(prepared) + len(rejected) == len(CONVERSATIONS)
    assert {r["conversation_id"]: r["reject"]["reason"] for r in rejected} == {
        "c": "duplicate", "d": "empty", "e": "redacted", "g": "missing_field"}
    generated, rejected = stage(work, "gen")
    assert len(generated) + len(rejected) == len(prepared) == 3
    assert all(len(r["responses"]) == 2 for r in generated)
    judged, rejected = stage(work, "judge")
    assert len(judged) + len(rejected) == len(generated)
    sft, rejected = stage(work, "select")
    assert len(sft) + len(rejected) == len(judged) == 3


def test_what_each_stage_wrote(piped):
    from transformers import AutoTokenizer

    work, judge = piped
    generated, _ = stage(work, "gen")
    judged, _ = stage(work, "judge")
    assert [r["preference_score"] for r in judged] == [[7.0, 7.0]] * 3
    assert [r["repetition_flag"] for r in judged] == [r["repetition"] for r in generated]  # carried over
    tokenizer = AutoTokenizer.from_pretrained(judge)
    for record in judged:
        assert record["response_token_length"] == [len(tokenizer(t, add_special_tokens=False)["input_ids"])
                                                   for t in record["responses"]]
    sft, _ = stage(work, "select")
    assert [r["conversation_id"] for r in sft] == ["a", "b", "f"]
    for record, source in zip(sft, judged):
        lengths = source["response_token_length"]
        shorter = source["responses"][lengths.index(min(lengths))]  # equal scores: the shorter, then the first
        assert record["messages"] == [{"role": "user", "content": source["instruction"]},
                                      {"role": "assistant", "content": shorter}]
        assert record["preference_score"] == 7.0


def test_select_again_with_a_higher_bar(piped):
    work, _ = piped
    high = ok("instruct-data", "select", "--min-score", "7.5", "-i", str(work / "out_judge.jsonl"),
              "--rejects", str(work / "rej_high.jsonl"), "-q")
    assert high == b"" and [r["reject"]["reason"] for r in read_jsonl(work / "rej_high.jsonl")] == ["low_score"] * 3


def scripted_judge(base: Path, answer: str, out: Path) -> Path:
    """The example's tiny judge (examples/instruct_data/scripted_judge.py), built here."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("scripted_judge", ROOT / "examples" / "instruct_data" / "scripted_judge.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.scripted_judge(base, answer, out)
