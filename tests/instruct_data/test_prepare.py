"""instruct-data prepare on hand-made conversations: the first user turn, and every flag."""

from __future__ import annotations

import pytest
from llmkit_instruct_data.normalize import first_user_turn, normal_form
from llmkit_instruct_data.prepare import PrepareSettings, PrepareStep, check_settings

from llmkit import Reject

from .helpers import llmkit, ok, read_jsonl, write_jsonl


def chat(ident, text, role="user", layout="conversation"):
    return {"id": ident, layout: [{"role": role, "content": text}, {"role": "assistant", "content": "an answer"}]}


def run(records, **settings):
    step = PrepareStep(PrepareSettings(keep_flagged=True, **settings))
    step.open()
    return step.process(records)


def test_first_user_turn_of_each_layout():
    assert first_user_turn(chat(1, "hi"), "instruction") == "hi"
    assert first_user_turn({"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "q"}]}, "instruction") == "q"
    assert first_user_turn({"conversations": None, "messages": [{"from": "human", "value": "sharegpt"}]}, "x") == "sharegpt"
    assert first_user_turn({"prompt": "plain"}, "prompt") == "plain"
    assert first_user_turn({"conversation": [{"role": "assistant", "content": "a"}]}, "instruction").reason == "missing_field"
    assert first_user_turn({"conversation": "text"}, "instruction").reason == "bad_messages"
    assert first_user_turn({"conversation": [{"role": "user", "content": ["image"]}]}, "instruction").reason == "bad_messages"
    assert first_user_turn({"text": "x"}, "instruction").reason == "missing_field"


def test_normal_form_is_nfkc_and_single_spaces():
    assert normal_form("\u3000Ｈｅｌｌｏ,\t\tworld ﬁne\n") == "Hello, world fine"
    assert normal_form("Hello") != normal_form("hello")  # case is kept


def test_exact_duplicates_point_to_the_first_occurrence():
    records = [
        chat("a", "Write a haiku about rain."),
        chat("b", "Write  a haiku\nabout rain. "),  # whitespace only
        chat("c", "Ｗｒｉｔｅ a haiku about rain."),  # full-width letters: equal after NFKC
        chat("d", "write a haiku about rain."),  # another case: another instruction
        {"id": "e", "instruction": "Write a haiku about rain."},  # plain layout
    ]
    out = run(records)
    assert [o["flags"]["duplicate_of"] for o in out] == [None, "a", "a", None, "a"]
    assert [o["instruction"] for o in out[:2]] == ["Write a haiku about rain.", "Write  a haiku\nabout rain. "]
    assert out[0]["conversation"] == records[0]["conversation"]  # every input field passes through


def test_duplicates_across_batches_and_without_ids():
    step = PrepareStep(PrepareSettings(keep_flagged=True))
    step.open()
    first = step.process([{"id": 7, "instruction": "same"}])
    later = step.process([{"id": 8, "instruction": " same "}])
    assert first[0]["flags"]["duplicate_of"] is None and later[0]["flags"]["duplicate_of"] == 7
    nulls = step.process([{"id": None, "instruction": "null id"}, {"id": None, "instruction": "null id"}])
    assert nulls[1]["flags"]["duplicate_of"] == "#2"  # a null id is no id: never a silent miss


def test_empty_and_redacted_flags():
    out = run([chat(1, " \n\t\u3000"), chat(2, "My friend NAME_1 lives in NAME_2, what should I gift?"),
               chat(3, "Explain the NAME_ORIGIN of Rome"), chat(4, "")])
    assert [o["flags"]["empty"] for o in out] == [True, False, False, True]
    assert [o["flags"]["redacted"] for o in out] == [False, True, False, False]
    mine = run([chat(1, "Call [PHONE] now")], redaction=r"\[PHONE\]")
    assert mine[0]["flags"]["redacted"] is True


def test_flagged_records_are_rejected_with_the_flag_as_reason():
    step = PrepareStep(PrepareSettings())
    step.open()
    out = step.process([chat(1, "hello there"), chat(2, "hello  there"), chat(3, ""), chat(4, "I am NAME_1"),
                        chat(5, "fine")])
    reasons = [o.reason if isinstance(o, Reject) else None for o in out]
    assert reasons == [None, "duplicate", "empty", "redacted", None]
    assert "duplicate of 1" in out[1].detail


TEMPLATE = "Give me an introduction over 200 words for {}, a chemical company in {}"
COMPANIES = [("Acme Chemicals", "Osaka, Japan"), ("Borax Ltd", "Leeds, United Kingdom"), ("Chem Co", "Ohio"),
             ("Delta Dyes", "Gujarat, India"), ("Epsilon", "Lyon, France"), ("Foo Corp", "Texas")]


def test_template_instructions_share_an_opening_and_size():
    records = [chat(i, TEMPLATE.format(*c)) for i, c in enumerate(COMPANIES)]
    # shares the 8-word opening but is far longer: another length class, not the template
    long_one = TEMPLATE.format("Zeta", "Rome") + ". " + "Please also cover its history in detail " * 6
    records.append(chat("long", long_one))
    records.append(chat("dup", TEMPLATE.format(*COMPANIES[0])))  # a duplicate is not a new member
    out = run(records, template_min=3)
    assert [o["flags"]["template"] for o in out[:6]] == [None, None] + ["give me an introduction over 200 words for"] * 4
    assert out[6]["flags"]["template"] is None
    assert out[7]["flags"]["duplicate_of"] == 0 and out[7]["flags"]["template"] is None
    assert all(o["flags"]["template"] is None for o in run(records, template_min=0))


def _jaccard(a, b, n=5):
    def grams(t):
        return {t[i : i + n] for i in range(len(t) - n + 1)}

    x, y = grams(normal_form(a).casefold()), grams(normal_form(b).casefold())
    return len(x & y) / len(x | y)


def test_near_duplicates_at_a_set_threshold():
    base = ("Please write a detailed travel plan for three days in Kyoto, including temples, food markets, "
            "a day trip to Nara and tips on public transport for a family with two young children.")
    close = base.replace("three days", "3 days")  # a small edit
    far = base.replace("Kyoto", "Lisbon").replace("temples", "museums").replace("Nara", "Sintra").replace("two young children", "a dog")
    other = "What is the boiling point of water at the top of Mount Everest?"
    assert _jaccard(base, close) > 0.85 and _jaccard(base, far) < 0.65  # the reference the test rests on
    out = run([chat(1, base), chat(2, close), chat(3, far), chat(4, other)], near_duplicates=0.8)
    assert [o["flags"]["near_duplicate_of"] for o in out] == [None, 1, None, None]
    assert [o["flags"]["duplicate_of"] for o in out] == [None] * 4
    # at a low threshold the far edit is caught too
    low = run([chat(1, base), chat(2, close), chat(3, far), chat(4, other)], near_duplicates=0.3)
    assert [o["flags"]["near_duplicate_of"] for o in low] == [None, 1, 1, None]


def test_bad_settings_are_usage_errors():
    from llmkit import UsageError

    for bad in ({"near_duplicates": 1.5}, {"template_min": -1}, {"redaction": "("}):
        with pytest.raises(UsageError):
            check_settings(PrepareSettings(**bad))


def _input(tmp_path):
    records = [chat(0, "alpha question")]
    records += [chat(i, TEMPLATE.format(*COMPANIES[i % 6])) for i in range(1, 7)]
    records += [chat(7, "alpha   question"), chat(8, ""), chat(9, "Hi NAME_1"), {"id": 10, "text": "no instruction"},
                chat(11, "beta question"), chat(12, "beta question"), chat(13, "Hi NAME_1"), chat(14, "gamma")]
    return write_jsonl(tmp_path / "in.jsonl", records), len(records)


def test_cli_counts_add_up_and_rejects_carry_the_flag(tmp_path):
    data, total = _input(tmp_path)
    out = read_jsonl(ok("instruct-data", "prepare", "-i", str(data), "--rejects", str(tmp_path / "rej.jsonl"),
                        "--template-min", "3", "-q"))
    rejects = read_jsonl(tmp_path / "rej.jsonl")
    assert len(out) + len(rejects) == total
    by_id = {r["id"]: r["reject"]["reason"] for r in rejects}
    assert by_id == {3: "template", 4: "template", 5: "template", 6: "template", 7: "duplicate", 8: "empty",
                     9: "redacted", 10: "missing_field", 12: "duplicate", 13: "duplicate"}
    assert [r["id"] for r in out] == [0, 1, 2, 11, 14]
    kept = read_jsonl(ok("instruct-data", "prepare", "-i", str(data), "--keep-flagged", "--template-min", "3", "-q"))
    assert len(kept) == total - 1 and kept[7]["flags"]["duplicate_of"] == 0


def test_resume_rebuilds_the_index_from_what_was_written(tmp_path):
    """A run stopped part-way then resumed writes exactly what one whole run writes: the
    duplicates, template counts and near-duplicates whose first occurrence was written by the
    first run are still found."""
    data, _ = _input(tmp_path)
    common = ["--template-min", "3", "--near-duplicates", "0.8", "-q"]
    whole_out, whole_rej = tmp_path / "whole.jsonl", tmp_path / "whole_rej.jsonl"
    ok("instruct-data", "prepare", "-i", str(data), "-o", str(whole_out), "--rejects", str(whole_rej), *common)
    for stop in (3, 5, 8, 12):
        out, rej = tmp_path / f"out{stop}.jsonl", tmp_path / f"rej{stop}.jsonl"
        ok("instruct-data", "prepare", "-i", str(data), "-o", str(out), "--rejects", str(rej), "--limit", str(stop), *common)
        ok("instruct-data", "prepare", "-i", str(data), "-o", str(out), "--rejects", str(rej), "--resume", *common)
        assert read_jsonl(out) == read_jsonl(whole_out), stop
        assert read_jsonl(rej) == read_jsonl(whole_rej), stop
    # without --rejects the rejected records are not written, so a resumed run sees them again
    out = tmp_path / "norej.jsonl"
    ok("instruct-data", "prepare", "-i", str(data), "-o", str(out), "--limit", "8", *common)
    ok("instruct-data", "prepare", "-i", str(data), "-o", str(out), "--resume", *common)
    assert read_jsonl(out) == read_jsonl(whole_out)


def test_keep_flagged_resume_and_records_without_ids(tmp_path):
    data = write_jsonl(tmp_path / "in.jsonl", [{"instruction": "x"}, {"instruction": "y"}, {"instruction": " x"}])
    out = read_jsonl(ok("instruct-data", "prepare", "-i", str(data), "--keep-flagged", "-q"))
    assert out[2]["flags"]["duplicate_of"] == f"{data}:1"  # no id: the first occurrence's FILE:LINE
    target = tmp_path / "out.jsonl"
    ok("instruct-data", "prepare", "-i", str(data), "-o", str(target), "--keep-flagged", "--limit", "2", "--resume", "-q")
    ok("instruct-data", "prepare", "-i", str(data), "-o", str(target), "--keep-flagged", "--resume", "-q")
    assert [r["flags"]["duplicate_of"] for r in read_jsonl(target)] == [None, None, 0]  # --resume numbers the records


def test_a_clashing_instruction_field_is_rejected(tmp_path):
    record = chat(1, "from the chat")
    record["instruction"] = "something else"
    out = run([record, {**chat(2, "same"), "instruction": "same"}, {**chat(3, "z"), "flags": "mine"}])
    assert isinstance(out[0], Reject) and out[0].reason == "field_exists"
    assert out[1]["instruction"] == "same"
    assert isinstance(out[2], Reject) and out[2].reason == "field_exists"
    done = llmkit("instruct-data", "prepare", "--near-duplicates", "2", stdin=b"")
    assert done.returncode == 2 and b"Traceback" not in done.stderr


def test_resume_keeps_an_id_beyond_64_bits_exact(tmp_path):
    # the index rebuilt from the output must hold the id as written, not orjson's rounded float
    import json

    big = 2**70 + 1  # not a float's value: a rounded id cannot compare equal
    data = tmp_path / "in.jsonl"
    data.write_text(f'{{"id": {big}, "instruction": "same"}}\n{{"id": 2, "instruction": "x"}}\n{{"id": 3, "instruction": "same"}}\n')
    whole = [json.loads(line) for line in ok("instruct-data", "prepare", "-i", str(data), "--keep-flagged", "-q").splitlines()]
    assert whole[2]["flags"]["duplicate_of"] == big
    target = tmp_path / "out.jsonl"
    ok("instruct-data", "prepare", "-i", str(data), "-o", str(target), "--keep-flagged", "--limit", "2", "--resume", "-q")
    ok("instruct-data", "prepare", "-i", str(data), "-o", str(target), "--keep-flagged", "--resume", "-q")
    assert json.loads(target.read_text().splitlines()[2])["flags"]["duplicate_of"] == big
