"""The two passes of ``pairs`` over scripted backends: the DPO record, its formats and rejects."""

from __future__ import annotations

from llmkit_ret_heads.pairs import ChosenStep, PairsConfig, RejectedStep

import llmkit
from llmkit.testing import ScriptedBackend, run_records

OPTIONS = llmkit.BackendOptions(model="scripted", chat=False)


def _passes(records, chosen, rejected, config=None):
    config = config or PairsConfig()
    first = run_records(ChosenStep(OPTIONS, config, ScriptedBackend(chosen)), records)
    second = run_records(RejectedStep(OPTIONS, config, ScriptedBackend(rejected)), first.outputs)
    return first, second


def test_pairs_and_their_rejects():
    records = [{"id": i, "prompt": f"question {i}", "topic": "t"} for i in range(5)]
    cut = llmkit.Completion("half an ans", [1, 2], "length")
    first, second = _passes(records, ["good 0", "", "good 2", "good 3", cut], ["bad 0", "good 2 ", "", "worse 4"])
    assert first.reasons == ["empty_answer"]  # the original's empty answer never reaches pass 2
    assert second.reasons == ["identical", "empty_answer"]
    assert [r["id"] for r in second.outputs] == [0, 4]  # a cut answer is kept without --drop-truncated
    assert second.outputs[0] == {"id": 0, "prompt": "question 0", "topic": "t", "chosen": "good 0", "rejected": "bad 0"}


def test_drop_truncated_in_either_pass():
    config = PairsConfig(drop_truncated=True)
    records = [{"id": i, "prompt": f"q{i}"} for i in range(2)]
    cut = llmkit.Completion("cut", [1], "length")
    first, second = _passes(records, [cut, "fine"], [cut], config)
    assert first.reasons == ["truncated"] and second.reasons == ["truncated"]


def test_same_sampling_for_both_models_with_retmask_defaults():
    options = llmkit.BackendOptions(model="scripted", chat=False, seed=7)
    chosen, rejected = ScriptedBackend(["a"]), ScriptedBackend(["b"])
    first = run_records(ChosenStep(options, PairsConfig(), chosen), [{"prompt": "p"}])
    run_records(RejectedStep(options, PairsConfig(), rejected), first.outputs)
    assert chosen.params == rejected.params
    params = chosen.params[0]
    assert (params.temperature, params.top_p, params.max_tokens, params.seed) == (0.6, 1.0, 2048, 7)
    assert chosen.prompts == rejected.prompts == ["p"]


def test_chat_format_and_another_input_field():
    config = PairsConfig(field="instruction", chat_format=True)
    _, second = _passes([{"instruction": "Say hi"}], ["hi"], ["bye"], config)
    assert second.outputs == [{"instruction": "Say hi", "prompt": [{"role": "user", "content": "Say hi"}],
                               "chosen": [{"role": "assistant", "content": "hi"}],
                               "rejected": [{"role": "assistant", "content": "bye"}]}]


def test_input_holding_an_output_field_or_no_instruction_is_rejected():
    records = [{"prompt": "p", "chosen": "theirs"}, {"text": "no prompt field"}]
    first = run_records(ChosenStep(OPTIONS, PairsConfig(), ScriptedBackend([])), records)
    assert first.reasons == ["field_exists", "missing_field"]


def test_every_reject_of_pass_two_names_the_input_line_also_the_templates():
    """A masked model's failure (here too_long, planted by the scripted backend's context) is the
    generation template's reject, not the step's: it still cites the line pass 1 read, not the
    spill's line, and the spill's own fields are taken off the record."""
    from llmkit_ret_heads.pairs import _SOURCE

    records = [{"id": i, "prompt": "p" * (10 if i else 60)} for i in range(3)]
    first = run_records(ChosenStep(OPTIONS, PairsConfig(), ScriptedBackend(["a0", "a1", "a2"])), records, source="in.jsonl")
    assert [r[_SOURCE] for r in first.outputs] == ["in.jsonl:1", "in.jsonl:2", "in.jsonl:3"]
    spilled = list(reversed(first.outputs))  # pass 2 reads the spill, lines in another order
    for batch_size in (1, 3):
        step = RejectedStep(OPTIONS, PairsConfig(), ScriptedBackend(["b"] * 3, max_model_len=40))
        second = run_records(step, [dict(r) for r in spilled], batch_size, source="spill.jsonl")
        assert [(reject.reason, reject.source) for _, reject in second.rejects] == [("too_long", "in.jsonl:1")]
        assert _SOURCE not in second.rejects[0][0]
