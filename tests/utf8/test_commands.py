"""The commands on records: check, generate (on a scripted backend), char-tiers and summary."""

from __future__ import annotations

import base64
from collections import Counter

import orjson
import pytest

from llmkit import BackendOptions, Reject
from llmkit_utf8.bytemap import ByteMap
from llmkit_utf8.check import CheckStep
from llmkit_utf8.generate import GenerateStep
from llmkit_utf8.settings import GenerateSettings
from llmkit_utf8.summary import SummaryStep
from llmkit_utf8.tiers import CharTiersStep, assign_tiers, parse_candidates
from llmkit.testing import ScriptedBackend, run_command, write_jsonl


def run_cli(args) -> tuple[int, list[dict], str]:
    run = run_command(["utf8-eval", *args])
    return run.status, run.outputs, run.stderr


# -- check ---------------------------------------------------------------------------------------


def test_check_encodings_and_rejects(tmp_path):
    data = "日本".encode() + b"\xe3\x81"
    rows = [
        {"id": 1, "bytes": data.hex()},
        {"id": 2, "bytes": base64.b64encode(data).decode()},
        {"id": 3, "bytes": "not hex!"},
        {"id": 4, "other": "00"},
    ]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    rejects = tmp_path / "rejects.jsonl"
    code, out, err = run_cli(["check", "-i", source, "--rejects", str(rejects)])
    assert code == 0
    assert [r["id"] for r in out] == [1]  # the base64 record is not valid hex
    assert out[0]["utf8"] == {
        "valid": False,
        "soft": 6 / 8,
        "partial": 6 / 8 + (2 / 3) * (2 / 8),
        "errors": [{"offset": 6, "length": 2, "kind": "truncated"}],
        "error_count": 1,
    }
    bad = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
    assert [(b["id"], b["reject"]["reason"]) for b in bad] == [(2, "bad_hex"), (3, "bad_hex"), (4, "missing_field")]
    assert "'bytes'" in bad[1]["reject"]["detail"] and bad[1]["reject"]["source"].endswith(":3")

    code, out, _ = run_cli(["check", "-i", source, "--encoding", "base64", "-q"])
    # hex digits are base64 letters too: record 1 decodes (to other bytes), "not hex!" does not
    assert [r["id"] for r in out] == [1, 2] and out[1]["utf8"]["errors"] == [{"offset": 6, "length": 2, "kind": "truncated"}]


def test_check_text_encoding_and_error_cap():
    step = CheckStep("text", "text", max_errors=2)
    record = step.process_record({"text": "ok\udc80\ud800"})
    assert record["utf8"]["valid"] is False and record["utf8"]["error_count"] == 6
    assert len(record["utf8"]["errors"]) == 2
    assert step.process_record({"text": "日本語"})["utf8"]["valid"] is True


def test_check_bad_options_and_bad_json(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"bytes": "41"}])
    code, _, err = run_cli(["check", "-i", source, "--encoding", "utf16"])
    assert code == 2 and "--encoding" in err
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"bytes": "41"}\n{oops\n')
    code, out, err = run_cli(["check", "-i", str(broken)])
    assert code == 65 and "broken.jsonl:2" in err and len(out) == 1


# -- generate (scripted) -------------------------------------------------------------------------

IDENTITY = ByteMap("byt5", [bytes([b]) for b in range(256)] + [None], list(range(256)), bos_id=None, eos_ids=frozenset([256]))


class ByteScripted(ScriptedBackend):
    """ScriptedBackend whose token ids are the answer's latin-1 bytes (raw bytes, any of 256)."""

    def generate(self, prompts, params):
        results = super().generate(prompts, params)
        for result in results:
            for completion in result.completions:
                completion.token_ids = list(completion.text.encode("latin-1"))
        return results


def scripted_step(answers, protocol="context-free", steps=3, max_model_len=None):
    backend = ByteScripted(answers, max_model_len=max_model_len)
    step = GenerateStep(BackendOptions(), GenerateSettings(protocol, steps), backend=backend, bytemap=IDENTITY)
    step.open()
    return step, backend


def test_generate_context_free_scores_every_step():
    # "あ" = e3 81 82; the scripted backend answers with the token ids = bytes of a latin-1 string
    answers = {1: "\x81\x82A", 2: "\x82AB", 3: "\xff"}
    step, backend = scripted_step(lambda prompt: answers[len(prompt.ids)])
    [row] = step.process([{"char": "あ", "tier": "rare"}])
    assert [p.ids for p in backend.prompts] == [[0xE3], [0xE3, 0x81], [0xE3, 0x81, 0x82]]
    assert backend.params[0].temperature == 0 and backend.params[0].max_tokens == 3
    found = row["utf8_generate"]
    assert row["tier"] == "rare" and found["byte_length"] == 3
    k1, k2, k3 = found["runs"]
    assert k1["valid"] == [False, True, True] and k1["completed"] == [False, True, True]
    assert k1["partial"] == [pytest.approx(2 / 3, abs=1e-6), 1.0, 1.0]  # e3 81: 2 of 3 bytes, all of the input
    assert k2["generated_hex"] == "824142" and k2["valid"] == [True, True, True]
    # a scripted answer shorter than the budget: the text stays as it was after the stop
    assert k3["generated_hex"] == "ff" and k3["stopped"] is True
    # k = L: the prompt holds the whole character, nothing is left to complete
    assert k3["valid"] == [False] * 3 and k3["soft"] == [0.75] * 3 and k3["completed"] is None
    assert found["valid_rate"] == pytest.approx(2 / 3) and found["completed_rate"] == 1.0


def test_generate_completed_is_exact_and_not_counted_at_k_equal_L():
    # "あ" = e3 81 82. k = 1 writes 81 82, then a stray continuation byte 80 that runs on into the
    # finished character; k = 2 writes nothing useful; k = 3 has nothing left to complete
    answers = {1: "\x81\x82\x80", 2: "AB", 3: "A"}
    step, _ = scripted_step(lambda prompt: answers[len(prompt.ids)])
    [row] = step.process([{"char": "あ"}])
    found = row["utf8_generate"]
    k1, k2, k3 = found["runs"]
    assert k1["completed"] == [False, True, False] and k2["completed"] == [False] * 3 and k3["completed"] is None
    assert found["completed_rate"] == 0.0  # not 1/3 for the free k = L run
    [ascii_row] = step.process([{"char": "a"}])  # one byte: only k = L
    assert ascii_row["utf8_generate"]["runs"][0]["completed"] is None
    assert ascii_row["utf8_generate"]["completed_rate"] is None


def test_generate_context_guided_term_match():
    term = "日本"  # e6 97 a5 e6 9c ac
    rest = term.encode()

    def answer(prompt):
        given = bytes(prompt.ids[len(b"ctx:"):])
        return rest[len(given) :].decode("latin-1") if len(given) != 2 else "x"

    step, backend = scripted_step(answer, "context-guided", steps=2)
    [row] = step.process([{"context": "ctx:", "term": term}])
    runs = row["utf8_generate"]["runs"]
    assert [r["k"] for r in runs] == [0, 1, 2, 3, 4, 5]
    assert backend.params[0].max_tokens == 6  # enough for the whole term after k = 0
    assert [r["term_match"][-1] for r in runs] == [True, True, False, True, True, True]
    assert [len(r["valid"]) for r in runs] == [6, 5, 4, 3, 2, 2]
    assert row["utf8_generate"]["term_match_rate"] == pytest.approx(5 / 6)


def test_generate_rejects():
    from llmkit.backends import TokenIds

    # the scripted backend measures prompts by their repr: [97] fits, [240] (and longer) does not
    step, _ = scripted_step(lambda prompt: "", max_model_len=len(str(TokenIds([97]))))
    rows = step.process([{"char": "ab"}, {"char": ""}, {"other": 1}, {"char": "\U0001F642"}, {"char": "a"}])
    assert [r.reason if isinstance(r, Reject) else "ok" for r in rows] == [
        "not_one_character", "not_one_character", "missing_field", "too_long", "ok"
    ]


def test_generate_unsupported_tokenizer_exits_2(tmp_path):
    from tokenizers import Tokenizer, models
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    raw = Tokenizer(models.WordLevel(vocab={"[UNK]": 0, "<s>": 1, "hello": 2}, unk_token="[UNK]"))
    PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="[UNK]", bos_token="<s>").save_pretrained(tmp_path / "m")
    config = LlamaConfig(vocab_size=3, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=1)
    LlamaForCausalLM(config).save_pretrained(tmp_path / "m")
    source = write_jsonl(tmp_path / "in.jsonl", [{"char": "あ"}])
    for command in ("generate", "next-byte"):
        code, _, err = run_cli([command, "--backend", "hf", "-m", str(tmp_path / "m"), "-i", source])
        assert code == 2 and "no byte tokens" in err and "<0x00>" in err, err


def test_output_fields_never_overwrite_input_data(tmp_path):
    rows = [{"id": 1, "bytes": "e3", "utf8": True}, {"id": 2, "bytes": "e3", "utf8": {"valid": True}}]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    rejects = tmp_path / "rejects.jsonl"
    code, out, _ = run_cli(["check", "-i", source, "--rejects", str(rejects)])
    assert code == 0
    assert [(r["id"], r["utf8"]["valid"]) for r in out] == [(2, False)]  # an earlier check's result: replaced
    (bad,) = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
    assert bad["reject"]["reason"] == "field_exists" and "'utf8'" in bad["reject"]["detail"] and bad["utf8"] is True
    step, backend = scripted_step(lambda prompt: "\x81\x82")
    rows = step.process([{"char": "あ", "utf8_generate": "notes"}, {"char": "a", "utf8_generate": {"old": 1}}])
    assert rows[0].reason == "field_exists" and "'utf8_generate'" in rows[0].detail
    assert rows[1]["utf8_generate"]["byte_length"] == 1 and len(backend.prompts) == 1


def test_next_byte_refuses_a_backend_it_would_ignore(tiny_byte, tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"char": "あ"}])
    for backend in ("openai", "vllm"):
        code, out, err = run_cli(["next-byte", "-m", str(tiny_byte), "--backend", backend,
                                  "--base-url", "http://127.0.0.1:9/v1", "-i", source])
        assert code == 2 and out == [], err
        assert "next-token distributions locally" in err and "hf only" in err and f"--backend {backend}" in err


def test_next_byte_keeps_input_fields(tiny_byte, tmp_path):
    rows = [{"id": 1, "char": "あ", "utf8_next_byte": "mine"}, {"id": 2, "char": "あ"}]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    rejects = tmp_path / "rejects.jsonl"
    code, out, err = run_cli(["next-byte", "--backend", "hf", "-m", str(tiny_byte), "-i", source,
                              "--rejects", str(rejects)])
    assert code == 0, err
    assert [r["id"] for r in out] == [2] and len(out[0]["utf8_next_byte"]["positions"]) == 2
    (bad,) = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
    assert bad["reject"]["reason"] == "field_exists" and bad["utf8_next_byte"] == "mine"


# -- char-tiers ----------------------------------------------------------------------------------


def test_char_tiers_counts_cutoffs_and_unseen(tmp_path):
    texts = ["ああああああ" * 50 + "い" * 10, "う"]
    total = sum(len(t) for t in texts)
    source = write_jsonl(tmp_path / "corpus.jsonl", [{"text": t} for t in texts] + [{"title": "no text"}])
    code, rows, err = run_cli(
        ["char-tiers", "-i", source, "--common-ppm", "10000", "--uncommon-ppm", "5000", "--candidates", "U+3041-U+3046"],
    )
    assert code == 0 and "missing_field" in err
    by_char = {r["char"]: r for r in rows}
    counts = Counter("".join(texts))
    for char, count in counts.items():
        assert by_char[char]["count"] == count and by_char[char]["ppm"] == pytest.approx(count * 1e6 / total, abs=1e-3)
    # 1e6 / 311 = 3215 ppm per occurrence: い (10) is common, う (1) is rare
    assert [by_char[c]["tier"] for c in "あいう"] == ["common", "common", "rare"]
    assert [r["char"] for r in rows if r["tier"] == "unseen"] == ["ぁ", "ぃ", "ぅ"]  # U+3041..U+3046 less あいう
    assert by_char["ぁ"] == {"char": "ぁ", "codepoint": "U+3041", "tier": "unseen", "count": 0, "ppm": 0.0, "byte_length": 3}


def test_quantile_tiers_keep_ties_together():
    counts = Counter({"a": 10, "b": 8, "c": 8, "d": 5, "e": 1, "f": 1, "g": 1, "h": 1, "i": 1, "j": 1})
    tiers = assign_tiers(counts, quantiles=(0.2, 0.5))
    # cut after rank 2 (c: 8, tied with b) and rank 5 (f: 1, tied with e): ties go down
    assert [tiers[c] for c in "abcdefghij"] == ["common"] + ["uncommon"] * 3 + ["rare"] * 6
    assert set(assign_tiers(counts, quantiles=(0.5, 1.0)).values()) == {"common", "uncommon"}


def test_candidates_from_file_and_bad_specs(tmp_path):
    path = tmp_path / "cands.txt"
    path.write_text("漢 字\n字\n")
    assert parse_candidates([str(path), "U+D7FF-U+E000"]) == ["漢", "字", "\ud7ff", "\ue000"]
    from llmkit import UsageError

    for bad in ("U+9FFF-U+4E00", "no-such-file.txt", "U+110000"):
        with pytest.raises(UsageError):
            parse_candidates([bad])


def test_char_tiers_sampling_per_tier():
    step = CharTiersStep(per_tier=2, seed=1, candidates=parse_candidates(["U+4E00-U+4E09"]))
    step.process([{"text": "abcdef"}])
    rows = list(step.finish())
    assert Counter(r["tier"] for r in rows) == {"common": 2, "unseen": 2}


# -- summary -------------------------------------------------------------------------------------


def test_summary_means_by_group(tmp_path):
    def record(tier, valid, completed):
        run = {"k": 1, "valid": valid, "soft": [0.5, 1.0], "partial": [0.75, 1.0], "completed": completed}
        return {"tier": tier, "utf8_generate": {"protocol": "context-free", "byte_length": 2, "runs": [run]}}

    positions = [{"k": 1, "char_bytes": 3, "valid_mass": 0.2, "match_mass": 0.1}, {"k": 2, "char_bytes": 3, "valid_mass": 0.6, "match_mass": 0.3}]
    rows = [
        record("rare", [False, True], [False, True]),
        record("rare", [False, False], [False, False]),
        record("common", [True, True], [True, True]),
        {"tier": "rare", "utf8_next_byte": {"positions": positions}},
        {"nothing": 1},
    ]
    source = write_jsonl(tmp_path / "gen.jsonl", rows)
    code, out, err = run_cli(["summary", "-i", source])
    assert code == 0 and "utf8-eval generate" in err and "missing_field" in err
    final = {r["tier"]: r for r in out if r["summary"] == "generate" and r["step"] == "final"}
    assert final["rare"]["n"] == 2 and final["rare"]["valid"] == 0.5 and final["rare"]["completed"] == 0.5
    assert final["common"]["valid"] == 1.0
    step1 = [r for r in out if r["summary"] == "generate" and r["tier"] == "rare" and r["step"] == 1]
    assert step1 == [{"summary": "generate", "protocol": "context-free", "tier": "rare", "byte_length": 2, "k": 1, "step": 1,
                      "n": 2, "valid": 0.0, "soft": 0.5, "partial": 0.75, "completed": 0.0}]
    nb = [r for r in out if r["summary"] == "next-byte"]
    assert nb[0] == {"summary": "next-byte", "tier": "rare", "byte_length": None, "k": None, "n": 2, "valid_mass": 0.4, "match_mass": 0.2}
    assert [(r["k"], r["valid_mass"]) for r in nb[1:]] == [(1, 0.2), (2, 0.6)]


def test_summary_completed_leaves_out_k_equal_L(tmp_path):
    def run(k, completed):
        return {"k": k, "valid": [True], "soft": [1.0], "partial": [1.0], "completed": completed}

    rows = [
        {"tier": "rare", "utf8_generate": {"protocol": "context-free", "byte_length": 2, "runs": [run(1, [False]), run(2, None)]}},
        # an output of an older version, which wrote `completed` true at k = L: left out as well
        {"tier": "rare", "utf8_generate": {"protocol": "context-free", "byte_length": 2, "runs": [run(1, [False]), run(2, [True])]}},
        {"tier": "common", "utf8_generate": {"protocol": "context-free", "byte_length": 1, "runs": [run(1, None)]}},
    ]
    code, out, err = run_cli(["summary", "-i", write_jsonl(tmp_path / "gen.jsonl", rows)])
    assert code == 0 and "n/a" in err
    final = {r["tier"]: r for r in out if r["step"] == "final"}
    assert final["rare"]["n"] == 4 and final["rare"]["valid"] == 1.0 and final["rare"]["completed"] == 0.0
    assert final["common"]["completed"] is None
    by_k = {r["k"]: r for r in out if r["tier"] == "rare" and r["step"] == 1}
    assert by_k[1]["completed"] == 0.0 and by_k[2]["completed"] is None and by_k[2]["n"] == 2


def test_summary_step_is_an_aggregate():
    step = SummaryStep()
    assert step.process([{"utf8_next_byte": {"positions": []}}]) == [None]
