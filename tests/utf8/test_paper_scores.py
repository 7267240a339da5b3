"""The UTF-8 paper's V_binary_soft / V_partial, against a transcription of its state machine.

The reference below is bytecanary ``src/bytecanary/dfa.py``: ``UTF8StateMachine.process_byte``
(states START, EXPECT_1, EXPECT_2_AFTER_1, EXPECT_2, EXPECT_3_AFTER_1, EXPECT_3_AFTER_2, EXPECT_3;
a second byte that breaks E0/ED/F0/F4's range, or any continuation after F5-F7, is marked invalid
and consumed; a non-continuation byte inside a sequence is re-read from START) and
``compute_dual_score`` (binary_soft = last char boundary / total bytes; partial_score adds
(expected_total - pending_bytes) * STATE_PROGRESS[final state]; empty input scores 1.0). It is
written state by state, as the official machine is, unlike the module under test.
"""

from __future__ import annotations

import random

import pytest

from llmkit_utf8.check import CheckStep
from llmkit_utf8.paper_scores import paper_scores
from llmkit_utf8.validate import check_bytes

STATE_PROGRESS = {"START": 1.0, "EXPECT_1": 0.5, "EXPECT_2": 0.333, "EXPECT_2_AFTER_1": 0.667, "EXPECT_3": 0.25,
                  "EXPECT_3_AFTER_1": 0.5, "EXPECT_3_AFTER_2": 0.75}
# state -> (expected_total, pending_bytes)
SHAPE = {"EXPECT_1": (2, 1), "EXPECT_2_AFTER_1": (3, 2), "EXPECT_2": (3, 1), "EXPECT_3_AFTER_1": (4, 3),
         "EXPECT_3_AFTER_2": (4, 2), "EXPECT_3": (4, 1)}


def official(data: bytes) -> tuple[float, float, float]:
    """(binary_strict, binary_soft, partial_score) by the official machine's transitions."""
    if not data:
        return 1.0, 1.0, 1.0
    state, lead, invalid, boundaries, i = "START", 0, 0, [], 0
    while i < len(data):
        b = data[i]
        cont = 0x80 <= b <= 0xBF
        if state == "START":
            i += 1
            if b <= 0x7F:
                boundaries.append(i)
            elif b <= 0xC1 or b >= 0xF8:
                invalid += 1
            else:
                lead = b
                state = "EXPECT_1" if b <= 0xDF else "EXPECT_2_AFTER_1" if b <= 0xEF else "EXPECT_3_AFTER_1"
            continue
        if not cont:  # re-read b from START
            invalid += 1
            state = "START"
            continue
        i += 1
        if state == "EXPECT_2_AFTER_1" and ((lead == 0xE0 and b < 0xA0) or (lead == 0xED and b >= 0xA0)):
            invalid, state = invalid + 1, "START"
        elif state == "EXPECT_3_AFTER_1" and ((lead == 0xF0 and b < 0x90) or (lead == 0xF4 and b >= 0x90) or lead > 0xF4):
            invalid, state = invalid + 1, "START"
        else:
            following = {"EXPECT_2_AFTER_1": "EXPECT_2", "EXPECT_3_AFTER_1": "EXPECT_3_AFTER_2", "EXPECT_3_AFTER_2": "EXPECT_3"}
            if state in following:
                state = following[state]
            else:
                boundaries.append(i)
                state = "START"
    total = len(data)
    valid_char_bytes = boundaries[-1] if boundaries else 0
    credit = 0.0
    if state != "START":
        expected_total, pending = SHAPE[state]
        credit = (expected_total - pending) * STATE_PROGRESS[state]
    strict = 1.0 if state == "START" and invalid == 0 else 0.0
    return strict, valid_char_bytes / total, (valid_char_bytes + credit) / total


CASES = [
    b"", b"A", "あ".encode(), b"\x80A", b"A\x80", b"\xe3", b"\xe3\x81", b"\xf0\x9f", b"\xf0\x9f\x98", b"\xc3",
    b"\xe0\x80\x80A", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xf5", b"\xf8A", b"\xc0\xafA",
    b"\xe3\x41", b"\xf0\x9f\x41", b"\xf0\x9f\x98\x41", b"A\x80\xe3\x81\x82\xe6\x97", b"\xe6\x97\xa5\xe6", b"\xff",
]


def _random_cases(count: int = 3000) -> list[bytes]:
    rng = random.Random(7)
    alphabet = [0x41, 0x80, 0x90, 0xA0, 0xBF, 0xC2, 0xC3, 0xDF, 0xE0, 0xE3, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xF8]
    return [bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 9))) for _ in range(count)]


@pytest.mark.parametrize("data", CASES, ids=lambda d: d.hex() or "empty")
def test_matches_the_official_machine_on_edge_cases(data):
    ours = paper_scores(data)
    assert (ours.V_binary_strict, ours.V_binary_soft, ours.V_partial) == pytest.approx(official(data), abs=1e-12)


def test_matches_the_official_machine_on_random_bytes_and_differs_from_llmkit():
    differ_soft = differ_partial = 0
    for data in _random_cases():
        ours = paper_scores(data)
        assert (ours.V_binary_strict, ours.V_binary_soft, ours.V_partial) == pytest.approx(official(data), abs=1e-12)
        # the paper's strict score is llmkit's `valid`; the other two are different scores
        check = check_bytes(data)
        assert ours.V_binary_strict == float(check.valid)
        differ_soft += abs(ours.V_binary_soft - check.soft) > 1e-9
        differ_partial += abs(ours.V_partial - check.partial) > 1e-9
    assert differ_soft > 500 and differ_partial > 500


def test_the_documented_worked_example():
    data = bytes.fromhex("4180e38182e697")  # "A", a stray 80, "あ", then 2 of the 3 bytes of "日"
    check, paper = check_bytes(data), paper_scores(data)
    assert check.soft == pytest.approx(4 / 7) and check.partial == pytest.approx(4 / 7 + (2 / 3) * (2 / 7))
    assert paper.V_binary_soft == pytest.approx(5 / 7) and paper.V_partial == pytest.approx((5 + 2 * 0.333) / 7)


def test_check_adds_the_paper_scores_only_when_asked():
    record = {"bytes": "4180e38182e697"}
    [plain] = CheckStep().process([record])
    assert "V_partial" not in plain["utf8"]
    [found] = CheckStep(paper=True).process([record])
    assert found["utf8"]["V_binary_soft"] == pytest.approx(5 / 7)
    assert found["utf8"]["V_partial"] == pytest.approx((5 + 0.666) / 7)
    assert found["utf8"]["soft"] == plain["utf8"]["soft"]  # llmkit's own scores stay as they are


def test_check_gives_well_formed_bytes_full_paper_scores():
    [found] = CheckStep(paper=True).process([{"bytes": "日本".encode().hex()}])
    assert {k: found["utf8"][k] for k in ("V_binary_soft", "V_partial")} == paper_scores("日本".encode()).as_dict()
    assert found["utf8"]["V_partial"] == official("日本".encode())[2] == 1.0


def test_summary_averages_the_paper_scores_where_generate_wrote_them():
    from llmkit_utf8.summary import SummaryStep

    run = {"k": 1, "valid": [False, True], "soft": [0.5, 1.0], "partial": [0.75, 1.0], "completed": [False, True],
           "V_binary_soft": [0.0, 1.0], "V_partial": [0.667, 1.0]}
    step = SummaryStep()
    step.process([{"utf8_generate": {"protocol": "context-free", "byte_length": 3, "runs": [run]}},
                  {"utf8_generate": {"protocol": "context-free", "byte_length": 3, "runs": [{**run, "V_partial": [0.333, 0.5]}]}}])
    rows = {(r["k"], r["step"]): r for r in step.finish()}
    assert rows[(1, 1)]["V_partial"] == pytest.approx(0.5) and rows[(1, 2)]["V_binary_soft"] == 1.0
    assert rows[(None, "final")]["V_partial"] == pytest.approx(0.75)
