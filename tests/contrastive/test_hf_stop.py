"""Stop strings in hf lockstep decoding: the tail decode cuts exactly where a full decode does."""

from __future__ import annotations

import pytest

from llmkit import SamplingParams

from .reference import MAX_TOKENS

#: Japanese (multi-byte: several byte tokens per character) and English, with stop strings in it
TEXT = (
    "日本語のテストです。吾輩は猫である。名前はまだ無い。 hello world, this is a test of stop strings; "
    "どこで生れたかとんと見当がつかぬ。何でも薄暗いじめじめした所でニャーニャー泣いていた。 the end."
)
STOPS = ["テスト", "猫で", "o w", "; ど", "見当がつかぬ。何でも薄暗い", "ニャー泣", "the end.", "not in the text"]


def _naive(tokenizer, ids: list[int], stops) -> str | None:
    """The rule written out: decode everything, cut before the first stop string."""
    text = tokenizer.decode(ids, skip_special_tokens=True)
    hits = [text.find(s) for s in stops if s and s in text]
    return text[: min(hits)] if hits else None


@pytest.mark.parametrize("model", ["tiny_llama", "tiny_byte"])
@pytest.mark.parametrize("stop", STOPS)
def test_tail_decode_matches_the_full_decode_token_by_token(request, model, stop):
    """Decoding as the decoder does (a token at a time, until the first hit), on a byte-level BPE
    tokenizer and on a byte-fallback one (where a window cut inside a character garbles the whole
    run of byte tokens around it)."""
    from transformers import AutoTokenizer

    from llmkit_contrastive.hf_decode import text_before_stop

    tokenizer = AutoTokenizer.from_pretrained(request.getfixturevalue(model))
    ids = tokenizer.encode(TEXT, add_special_tokens=False)
    assert len(ids) > 60  # long enough that the window is a tail, not the whole
    stops = (stop, "?!")  # several stop strings: the first hit wins
    for t in range(1, len(ids) + 1):
        want = _naive(tokenizer, ids[:t], stops)
        assert text_before_stop(tokenizer, ids[:t], stops) == want, (t, stop)
        if want is not None:
            assert TEXT.startswith(want + stop)
            break
    else:
        assert stop not in TEXT


def test_a_stop_string_across_tokens_ends_the_row_as_a_full_decode_would(pair, reference):
    """Greedy contrastive decoding with a stop string made of the end of one token and the start of
    the next, against the naive rule applied to the reference tokens."""
    from llmkit_contrastive.formulas import Contrast
    from llmkit_contrastive.hf_decode import LockstepDecoder

    expert, amateur, tokenizer, prompts = pair
    refs = reference("difference", eos_id=-1)

    def texts(ids, k):  # the text up to token k, and with token k + 1
        return tokenizer.decode(ids[: k + 1], skip_special_tokens=True), tokenizer.decode(ids[: k + 2], skip_special_tokens=True)

    def spans(ids, k):  # token k + 1 adds clean text right after two clean characters
        before, after = texts(ids, k)
        return len(before) >= 2 and len(after) > len(before) and after.startswith(before) and "\ufffd" not in after[len(before) - 2 :]

    row, k = next((row, k) for row, ids in enumerate(refs) for k in range(4, len(ids) - 1) if spans(ids, k))
    before, after = texts(refs[row], k)
    stop = after[len(before) - 2 : len(before) + 1]
    assert stop not in before  # only token k + 1 completes it
    decoder = LockstepDecoder(expert, amateur, tokenizer, Contrast(), vocab_size=len(tokenizer), max_model_len=1024, eos_ids=set())
    got = decoder.generate(prompts, SamplingParams(temperature=0, max_tokens=MAX_TOKENS, stop=(stop,)))
    for ref, completions in zip(refs, got, strict=True):
        want_ids, want_text = ref, tokenizer.decode(ref, skip_special_tokens=True)
        for t in range(1, len(ref) + 1):
            cut = _naive(tokenizer, ref[:t], (stop,))
            if cut is not None:
                want_ids, want_text = ref[:t], cut
                break
        assert (completions[0].token_ids, completions[0].text) == (want_ids, want_text)
    assert got[row][0].finish_reason == "stop" and got[row][0].token_ids == refs[row][: k + 2]


def test_greedy_n_gives_n_copies_of_one_decode(pair, reference):
    from llmkit_contrastive.formulas import Contrast
    from llmkit_contrastive.hf_decode import LockstepDecoder

    expert, amateur, tokenizer, prompts = pair
    decoder = LockstepDecoder(expert, amateur, tokenizer, Contrast(), vocab_size=len(tokenizer), max_model_len=1024,
                              eos_ids={tokenizer.eos_token_id})
    rows = []
    original = decoder._decode
    decoder._decode = lambda batch, params, generator: rows.append(len(batch)) or original(batch, params, generator)
    got = decoder.generate(prompts, SamplingParams(temperature=0, n=3, max_tokens=MAX_TOKENS))
    assert rows == [len(prompts)]  # each prompt decoded once
    for completions, want in zip(got, reference("difference"), strict=True):
        assert [c.token_ids for c in completions] == [want] * 3
        assert completions[0] is not completions[1] and completions[0].token_ids is not completions[1].token_ids
