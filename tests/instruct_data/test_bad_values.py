"""instruct-data on values a malformed dump holds: a named reject, never an internal error, and
bounded memory for one enormous turn."""

from __future__ import annotations

import json
import random
import tracemalloc

import numpy as np
from llmkit_instruct_data.minhash import _FNV_OFFSET, _FNV_PRIME, SHINGLE, MinHasher

from .helpers import llmkit, read_jsonl

BEYOND_DOUBLE = 10**400  # read exactly by llmkit, too large for float()


def test_a_role_that_is_a_list_or_object_is_a_named_reject_and_the_batch_survives(tmp_path):
    rejects = tmp_path / "rejects.jsonl"
    stdin = b"".join([
        b'{"id": 1, "conversation": [{"role": ["user"], "content": "hi"}]}\n',
        b'{"id": 2, "messages": [{"from": {"a": 1}, "value": "hey"}]}\n',
        b'{"id": 3, "conversation": [{"role": "user", "content": "kept"}]}\n',
    ])
    done = llmkit("instruct-data", "prepare", "--rejects", str(rejects), stdin=stdin)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert [r["id"] for r in read_jsonl(done.stdout)] == [3]
    reasons = {r["id"]: r["reject"] for r in read_jsonl(rejects)}
    assert {i: (r["reason"], r["source"]) for i, r in reasons.items()} == {1: ("bad_messages", "<stdin>:1"), 2: ("bad_messages", "<stdin>:2")}
    assert "list" in reasons[1]["detail"] and "dict" in reasons[2]["detail"]


def test_a_preference_score_beyond_a_double_is_a_named_reject(tmp_path):
    rejects = tmp_path / "rejects.jsonl"
    stdin = (
        b'{"id": 1, "instruction": "q", "responses": ["a", "b"], "preference_score": [3, ' + str(BEYOND_DOUBLE).encode() + b"]}\n"
        b'{"id": 2, "instruction": "q", "response": "a", "preference_score": -' + str(BEYOND_DOUBLE).encode() + b"}\n"
        b'{"id": 3, "instruction": "q", "responses": ["a", "b"], "preference_score": [3, 5]}\n'
    )
    done = llmkit("instruct-data", "select", "--rejects", str(rejects), stdin=stdin)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert [r["id"] for r in read_jsonl(done.stdout)] == [3]
    rejected = [json.loads(line) for line in rejects.read_text().splitlines()]  # exact ints: not orjson
    assert [(r["id"], r["reject"]["reason"]) for r in rejected] == [(1, "bad_scores"), (2, "bad_scores")]
    assert rejected[0]["preference_score"][1] == BEYOND_DOUBLE  # the record kept exactly as it came


def whole_signature(hasher: MinHasher, text: str) -> np.ndarray:
    """The signature as the plugin computed it before: every shingle permuted at once (FNV-1a
    over the code points of each 5-gram, written here one window at a time)."""
    width = min(SHINGLE, len(text))
    windows = [text[i : i + width] for i in range(len(text) - width + 1)] or [""]
    hashes = []
    for window in windows:
        value = _FNV_OFFSET if window else 0
        for char in window:
            value = ((value ^ ord(char)) * _FNV_PRIME) & 0xFFFFFFFF
        hashes.append(value)
    unique = np.unique(np.array(hashes, dtype=np.uint64))
    with np.errstate(over="ignore"):
        mixed = (unique[:, None] * hasher.a[None, :] + hasher.b[None, :]) >> np.uint64(32)
    return mixed.min(axis=0).astype(np.uint32)


def test_chunked_signature_equals_the_whole_one_across_chunk_edges():
    hasher = MinHasher(num_perm=32)
    rng = random.Random(3)
    from llmkit_instruct_data import minhash

    for length in (0, 1, 4, 5, 6, minhash.CHUNK - 1, minhash.CHUNK, minhash.CHUNK + 3, 2 * minhash.CHUNK + 7):
        text = "".join(rng.choice("abcdéf 日本") for _ in range(length))
        assert (hasher.signature(text) == whole_signature(hasher, text)).all(), length


def test_one_enormous_turn_is_hashed_in_bounded_memory():
    hasher = MinHasher(num_perm=128)
    rng = random.Random(0)
    short = "".join(rng.choice("abcdefghij klmnop") for _ in range(50_000))
    long = short * 24  # 1.2M characters
    peaks = []
    for text in (short, long):
        tracemalloc.start()
        hasher.signature(text)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    # all shingles at once took ~1 KB a character (about 1.2 GB here); chunked, the peak does not
    # grow with the text beyond the text's own UTF-32 copy of one chunk
    assert peaks[1] < 64 * 2**20 and peaks[1] < 1.5 * peaks[0] + 2**20
