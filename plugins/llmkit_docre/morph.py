"""Tokenizers for translated text: a morphological analyser for Japanese, characters for Chinese,
words for space-separated languages.

``fugashi`` (MeCab with UniDic Lite; JacRED's own tokens are UniDic's short units) and
``sudachi`` (SudachiPy, split mode A, short units too) need ``pip install 'llmkit[ja]'``
(SudachiPy: ``pip install sudachipy sudachidict-core``). ``chars`` cuts Chinese (and any text
without spaces) into characters, keeping a run of ASCII letters or digits as one token, since a
dictionary-free segmenter cannot be trusted to cut at word boundaries and characters can: every
mention boundary then falls between tokens. ``words`` splits at spaces and punctuation.

:func:`tokenize_spans` tokenizes a sentence in segments cut at every mention boundary, so a
mention always covers whole tokens and its tokens join back to its text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from itertools import pairwise

import llmkit

Tokenize = Callable[[str], list[str]]

#: tokenizer used for a target language when --tokenizer is not given
DEFAULT_TOKENIZER = {"ja": "fugashi", "zh": "chars", "zh-cn": "chars", "zh-tw": "chars", "yue": "chars", "th": "chars"}
TOKENIZERS = ("fugashi", "sudachi", "chars", "words")
#: languages written without spaces between words: their mention names are joined with ""
UNSPACED = {"ja", "zh", "zh-cn", "zh-tw", "yue", "th"}

_CHARS = re.compile(r"[A-Za-z0-9]+(?:[.,][0-9]+)*|\S")
_WORDS = re.compile(r"\w+(?:[-'’.]\w+)*|[^\w\s]")


def default_tokenizer(lang: str) -> str:
    return DEFAULT_TOKENIZER.get(lang.lower(), "words")


def open_tokenizer(name: str) -> Tokenize:
    """The tokenizer called ``name``; exit 69 with the install command when its package is missing."""
    if name == "chars":
        return lambda text: _CHARS.findall(text)
    if name == "words":
        return lambda text: _WORDS.findall(text)
    if name == "fugashi":
        return _fugashi()
    if name == "sudachi":
        return _sudachi()
    raise llmkit.UsageError(f"unknown --tokenizer {name!r}; choose {', '.join(TOKENIZERS)}")


def _fugashi() -> Tokenize:
    try:
        import fugashi  # type: ignore[import-untyped]
        import unidic_lite  # type: ignore[import-untyped]  # noqa: F401  (the dictionary fugashi finds by default)
    except ImportError as exc:
        raise llmkit.BackendUnavailable(
            f"the fugashi tokenizer needs fugashi and unidic-lite ({exc.name} is not installed). "
            "Install them with: pip install 'llmkit[ja]'"
        ) from None
    tagger = fugashi.Tagger()

    def tokenize(text: str) -> list[str]:
        return [word.surface for word in tagger(text) if word.surface.strip()]

    return tokenize


def _sudachi() -> Tokenize:
    try:
        from sudachipy import Dictionary, SplitMode  # type: ignore[import-untyped]
    except ImportError:
        raise llmkit.BackendUnavailable(
            "the sudachi tokenizer needs SudachiPy and a dictionary, which are not installed. "
            "Install them with: pip install sudachipy sudachidict-core"
        ) from None
    try:
        dictionary = Dictionary()
    except Exception as exc:  # noqa: BLE001  (no dictionary installed: SudachiPy raises its own error types)
        raise llmkit.BackendUnavailable(
            f"SudachiPy found no dictionary ({exc}). Install one with: pip install sudachidict-core"
        ) from None
    # SudachiPy 0.7 renamed create() to tokenizer(); mode A gives short units, as UniDic's
    make = getattr(dictionary, "tokenizer", None) or dictionary.create
    tokenizer = make(mode=SplitMode.A)

    def tokenize(text: str) -> list[str]:
        return [m.surface() for m in tokenizer.tokenize(text) if m.surface().strip()]

    return tokenize


def tokenize_spans(tokenize: Tokenize, text: str, spans: Sequence[tuple[int, int]]) -> tuple[list[str], list[tuple[int, int]]]:
    """Tokens of ``text`` and, for each character span, its token span ``[start, end)``.

    The text is cut at every span boundary and each segment is tokenized on its own, so no
    token straddles a boundary (an analyser would otherwise merge a mention with the particle
    after it). A span whose text yields no token gets an empty token span."""
    cuts = sorted({0, len(text), *(b for span in spans for b in span)})
    tokens: list[str] = []
    first_token_at: dict[int, int] = {}
    for lo, hi in pairwise(cuts):
        first_token_at[lo] = len(tokens)
        tokens.extend(tokenize(text[lo:hi]))
    first_token_at[len(text)] = len(tokens)
    return tokens, [(first_token_at[start], first_token_at[end]) for start, end in spans]
