"""find_repetition by characters: Japanese and Chinese loops (no spaces), the auto rule, no quadratic scan."""

from __future__ import annotations

import random

import pytest

from llmkit import find_repetition

from .test_text import _naive

#: Japanese prose without any loop (distinct sentences)
PROSE = (
    "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。何でも薄暗いじめじめした所で"
    "ニャーニャー泣いていた事だけは記憶している。吾輩はここで始めて人間というものを見た。しかもあとで"
    "聞くとそれは書生という人間中で一番獰悪な種族であったそうだ。この書生というのは時々我々を捕えて"
    "煮て食うという話である。しかしその当時は何という考もなかったから別段恐しいとも思わなかった。"
)


@pytest.mark.parametrize("seed", range(40))
def test_chars_match_the_naive_scan(seed):
    rng = random.Random(seed)
    chars = [rng.choice("あいうえ") for _ in range(rng.randrange(10, 300))]
    if seed % 2:  # plant a loop somewhere
        loop = [rng.choice("日本語") for _ in range(rng.randrange(1, 12))]
        at = rng.randrange(len(chars))
        chars[at:at] = loop * rng.randrange(2, 12)
    # whitespace is skipped: sprinkle some, it must change nothing
    text = "".join(c + (" " if rng.random() < 0.1 else "") + ("\n" if rng.random() < 0.05 else "") for c in chars)
    found = find_repetition(text, unit="char", min_span=16, max_period=24)
    want = _naive(chars, 3.0, 16, 24)
    assert (found.period, found.repeats) == want if found else want is None
    if found:
        assert found.unit == "char"


def test_japanese_and_chinese_loops_are_found_by_default():
    found = find_repetition("これはテストです。" * 40)
    assert found.describe() == "a 9-char passage repeated 40.0 times" and found.unit == "char"
    found = find_repetition("はい、わかりました！" + "我们需要继续努力。" * 8)  # 72 characters of loop
    assert (found.period, found.repeats, found.start) == (9, 8.0, 10)
    # spaced or broken into lines, the same loop
    assert find_repetition("これは テスト です。\n" * 10).period == 9
    # a loop as part of an answer with code and English in it
    answer = "次のコードを使います。\n```python\nprint('hello world')  # say hello\n```\n" + "これはテストです。" * 12
    assert find_repetition(answer).unit == "char"


def test_prose_and_short_loops_are_not_flagged():
    assert find_repetition(PROSE) is None
    assert find_repetition(PROSE * 2) is None  # twice is not a loop (three times is)
    assert find_repetition(PROSE * 3, unit="char", max_period=len(PROSE)) is not None
    assert find_repetition("はい。" * 21) is None  # 63 characters: under the 64-character floor
    assert find_repetition("はい。" * 22).repeats == 22.0


def test_auto_is_words_for_english_and_code():
    rng = random.Random(0)
    for _ in range(50):
        words = [rng.choice("the cat sat on a mat x = 1".split()) for _ in range(rng.randrange(10, 200))]
        text = " ".join(words) + " 日本語"  # a little CJK does not switch the unit
        assert find_repetition(text) == find_repetition(text, unit="word")
    banner = "# " + "=" * 80 + "\nimport os\n"
    assert find_repetition(banner) is None  # one word by words; characters would call it a loop
    assert find_repetition(banner, unit="char").period == 1


def test_bad_unit_is_refused():
    with pytest.raises(ValueError, match="unit must be"):
        find_repetition("text", unit="token")  # type: ignore[arg-type]


@pytest.mark.timeout(60)
def test_a_long_text_is_checked_in_linear_time():
    """A quadratic scan of 300,000 characters would run for hours; a linear one takes about a
    second. A guard against a hang, not a timing: the margin is over a hundredfold."""
    rng = random.Random(0)
    sentences = [s + "。" for s in PROSE.split("。") if s]
    prose = "".join("".join(rng.sample(sentences, len(sentences))) for _ in range(2000))[:300_000]
    looping = ("これはテストです。" * 40_000)[:300_000]
    noise = "".join(rng.choice("あいうえおかきくけこ") for _ in range(300_000))
    assert find_repetition(prose) is None  # every sentence recurs, but never back to back enough
    assert find_repetition(noise) is None
    assert find_repetition(looping) is not None
