"""The validator against Python's own UTF-8 codec, the utf8tests.txt cases and Kuhn's stress test."""

from __future__ import annotations

import random

import pytest

from llmkit_utf8.validate import (
    KINDS,
    check_bytes,
    incomplete_tail,
    is_valid_prefix,
    replace_with_spans,
)


def python_valid(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def agree(data: bytes) -> None:
    found = check_bytes(data)
    assert found.valid == python_valid(data), data.hex()
    assert replace_with_spans(data, found.errors) == data.decode("utf-8", "replace"), data.hex()
    assert found.valid == (not found.errors)


def test_every_one_and_two_byte_string_matches_python():
    for first in range(256):
        agree(bytes([first]))
        for second in range(256):
            agree(bytes([first, second]))


def test_random_strings_match_python():
    rng = random.Random(20240611)
    # bias towards bytes that start or continue sequences, where the rules live
    alphabet = list(range(0x80, 0x100)) * 3 + list(range(0x00, 0x80))
    for _ in range(100_000):
        length = rng.randint(1, 6)
        agree(bytes(rng.choice(alphabet) if rng.random() < 0.7 else rng.randrange(256) for _ in range(length)))


def naive_scores(data: bytes) -> tuple[float, float]:
    """soft and partial from the README's definitions, with Python's decoder giving the spans."""
    bad, position, last_truncated = 0, 0, None
    while position < len(data):
        try:
            data[position:].decode("utf-8")
            break
        except UnicodeDecodeError as exc:
            start, end = position + exc.start, position + exc.end
            bad += end - start
            if exc.reason == "unexpected end of data":
                last_truncated = (start, end)
            position = end
    soft = (len(data) - bad) / len(data)
    partial = soft
    if last_truncated:
        lead = data[last_truncated[0]]
        expected = 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
        present = last_truncated[1] - last_truncated[0]
        partial += present / expected * present / len(data)
    return soft, partial


def test_soft_and_partial_match_their_definitions():
    rng = random.Random(7)
    text = "aé日🙂".encode("utf-8")
    for _ in range(5000):
        data = bytes(rng.choice(text + bytes([0x80, 0xC0, 0xFF, 0xED, 0xA0])) for _ in range(rng.randint(1, 12)))
        found = check_bytes(data)
        soft, partial = naive_scores(data)
        assert found.soft == pytest.approx(soft) and found.partial == pytest.approx(partial), data.hex()


@pytest.mark.parametrize(
    ("hex_bytes", "kinds", "soft", "partial"),
    [
        ("80", ["unexpected_continuation"], 0.0, 0.0),
        ("c0af", ["invalid_lead", "unexpected_continuation"], 0.0, 0.0),
        ("41c1", ["invalid_lead"], 0.5, 0.5),
        ("41ff", ["invalid_lead"], 0.5, 0.5),
        ("e08080", ["overlong", "unexpected_continuation", "unexpected_continuation"], 0.0, 0.0),
        ("f08f8080", ["overlong"] + ["unexpected_continuation"] * 3, 0.0, 0.0),
        ("eda080", ["surrogate", "unexpected_continuation", "unexpected_continuation"], 0.0, 0.0),
        ("f4908080", ["above_max"] + ["unexpected_continuation"] * 3, 0.0, 0.0),
        ("e38141", ["interrupted"], 1 / 3, 1 / 3),
        ("e341", ["interrupted"], 0.5, 0.5),
        # "あ" + the first two of three bytes: 3 good bytes, then 2/3 of a character over 5 bytes
        ("e38182e381", ["truncated"], 3 / 5, 3 / 5 + (2 / 3) * (2 / 5)),
        ("f09f99", ["truncated"], 0.0, 3 / 4 * 3 / 3),
    ],
)
def test_error_kinds_and_scores(hex_bytes, kinds, soft, partial):
    found = check_bytes(bytes.fromhex(hex_bytes))
    assert [e.kind for e in found.errors] == kinds
    assert found.soft == pytest.approx(soft)
    assert found.partial == pytest.approx(partial)


def test_empty_and_valid_inputs_score_one():
    for data in (b"", "日本語 and 🙂".encode()):
        found = check_bytes(data)
        assert (found.valid, found.soft, found.partial, found.errors) == (True, 1.0, 1.0, ())


def test_valid_prefix_and_tail_against_brute_force():
    rng = random.Random(3)
    for _ in range(20_000):
        data = rng.randbytes(rng.randint(1, 5))
        # a valid prefix is one that some continuation turns into valid UTF-8
        brute = any(python_valid(data + extra) for extra in (b"", b"\x80", b"\x80\x80", b"\x80\x80\x80", b"\xa0\x80", b"\x90\x80\x80", b"\xa0\x80\x80"))
        assert is_valid_prefix(data) == brute, data.hex()
        if brute:
            tail = incomplete_tail(data)
            assert python_valid(data[: len(data) - len(tail)])
            assert (tail == b"") == python_valid(data)


def _utf8tests_cases(path):
    for line in path.read_text(encoding="ascii").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        number, kind, *rest = line.split(":")
        kind = kind.strip()
        if kind == "valid":
            yield number, rest[0].encode("ascii"), None, None
        elif kind == "valid hex":
            yield number, bytes.fromhex(rest[0]), None, None
        else:
            assert kind == "invalid hex", line
            skipped = b"" if rest[1].strip() == "nothing" else bytes.fromhex(rest[1])
            yield number, bytes.fromhex(rest[0]), skipped, bytes.fromhex(rest[2])


def test_utf8tests_file(shared_data):
    cases = list(_utf8tests_cases(shared_data / "utf8" / "utf8tests.txt"))
    # shared/data/README.md says 216 cases; the file as stored holds 222 (77 valid, 145 invalid)
    assert len(cases) >= 216 and sum(c[3] is not None for c in cases) >= 140
    seen_kinds = set()
    for number, data, skipped, replaced in cases:
        found = check_bytes(data)
        assert found.valid == (replaced is None), number
        if replaced is None:
            continue
        assert replace_with_spans(data, found.errors).encode() == replaced, number
        kept, position = [], 0
        for error in found.errors:
            kept.append(data[position : error.offset])
            position = error.offset + error.length
        assert b"".join(kept) + data[position:] == skipped, number
        seen_kinds.update(e.kind for e in found.errors)
    assert seen_kinds == set(KINDS)


def test_kuhn_stress_test(shared_data):
    raw = (shared_data / "utf8" / "UTF-8-test.txt").read_bytes()
    whole = check_bytes(raw)
    assert not whole.valid
    assert replace_with_spans(raw, whole.errors) == raw.decode("utf-8", "replace")
    for line in raw.split(b"\n"):
        agree(line)
    kinds = {e.kind for e in whole.errors}
    assert kinds >= set(KINDS) - {"truncated"}  # the file ends cleanly
