"""`docre transfer`: translate DocRED documents into another language, carrying their mentions.

Each sentence (or whole document, ``unit="document"``) goes to the model with its mentions in
numbered tags (:mod:`llmkit_docre.markers`); a whole batch of documents' units is one backend
call. An answer whose tags are wrong is asked again (``retries`` times, with a prompt that names
what was wrong); a document with a unit still wrong is rejected, never written with a guessed
span. The answer is tokenized by the target language's analyser (:mod:`llmkit_docre.morph`),
cut at the mention boundaries, and the document is rebuilt: same entities, mentions, labels and
evidence; new sentences, spans and names. Every document written passes ``data.parse_document``.

Reject reasons: ``mention_lost`` (a mention's tag lost, duplicated, malformed, empty or moved to
another sentence after the retries; the detail names the sentence, entity and mention),
``sentence_lost`` (a sentence tag of a ``document`` unit), ``truncated`` (an answer still cut by
the token limit), ``too_long`` / ``empty_prompt`` / ``no_answer`` (from the backend),
``field_exists`` (the record has a ``transfer`` field), and ``data.parse_document``'s reasons for
an input document that is not valid DocRED.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import llmkit
from llmkit.backends import Backend, GenerationResult
from llmkit_docre.data import Document, parse_document, relations_from_names
from llmkit_docre.markers import (
    TAG,
    MarkedText,
    Problems,
    Span,
    mark_sentence,
    parse_marked,
)
from llmkit_docre.options import TransferConfig
from llmkit_docre.morph import (
    UNSPACED,
    default_tokenizer,
    open_tokenizer,
    tokenize_spans,
)

LANGUAGES = {
    "ja": "Japanese", "zh": "Chinese", "en": "English", "ko": "Korean", "de": "German", "fr": "French",
    "es": "Spanish", "it": "Italian", "pt": "Portuguese", "ru": "Russian", "ar": "Arabic", "th": "Thai",
    "vi": "Vietnamese", "id": "Indonesian", "nl": "Dutch", "pl": "Polish", "tr": "Turkish",
}
#: token budget of one answer when --max-tokens is not given
MAX_TOKENS = {"sentence": 512, "document": 4096}
#: mention keys that point into the source text and mean nothing in the translation
SOURCE_POSITION_KEYS = ("global_pos",)


@dataclass
class Unit:
    """One text sent for translation: a sentence, a whole document, or a title."""

    doc: int  # index of its document in the batch
    kind: str  # "sentence", "document" or "title"
    text: str
    sentences: list[int]  # source sentence ids (a document unit's in order)
    #: marker number -> (entity, mention index, sentence id)
    owners: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    answer: MarkedText | str | None = None
    #: the last answer's problems and text, while it is being asked again
    problems: Problems | None = None
    previous: str | None = None
    attempts: int = 0
    first_problems: Problems | None = None


def language_name(code: str) -> str:
    return LANGUAGES.get(code.lower(), code)


class TransferStep(llmkit.GenerationStep):
    """On the core's generation-step template (lazy shared backend, sampling values fixed when
    built, ``--model`` required, the ``transfer`` field checked for clashes, backend failures as
    rejects): a record's prompts are its units, and an answer with wrong tags is asked again
    through the template's ``retry`` hook (``max_attempts`` = 1 + ``--retries``), the batch's
    second asks in one call."""

    name = "transfer"
    #: documents per batch: all their sentences go to the backend in one call
    batch_size = 32

    def __init__(self, options: llmkit.BackendOptions, config: TransferConfig, backend: Backend | None = None) -> None:
        super().__init__(
            options, backend, writes=(config.field,), clash_hint="pass --field to name the transfer field otherwise",
            sampling={"temperature": 0.0, "max_tokens": MAX_TOKENS[config.unit]},
        )
        self.config = config
        names = {"source_lang", "target_lang", "text"}
        self.template = llmkit.load_prompt("llmkit_docre", "transfer", config.prompt, required=names)
        self.retry_template = llmkit.load_prompt(
            "llmkit_docre", "transfer_retry", config.retry_prompt, required=names | {"previous", "problems"}
        )
        self.tokenizer_name = config.tokenizer or default_tokenizer(config.target_lang)
        self.spaced_source = config.source_lang.lower() not in UNSPACED
        self.max_attempts = 1 + config.retries
        #: the last record planned and its document and units: the template asks the hooks of one
        #: record in a row (its retries, then its acceptance), which need its units each time
        self._planned: tuple[llmkit.Record, Document, list[Unit]] | None = None

    def open(self) -> None:
        self.tokenize = open_tokenizer(self.tokenizer_name)  # a missing analyser fails before the model loads

    # -- the template's hooks ----------------------------------------------------------------

    def prompts(self, record: llmkit.Record, text: str) -> list[llmkit.Prompt] | llmkit.Reject:
        planned = self._plan(record)
        if isinstance(planned, llmkit.Reject):
            return planned
        return [self.chat_prompt(self._prompt(unit)) for unit in planned[1]]

    def retry(self, record: llmkit.Record, index: int, result: GenerationResult, attempt: int) -> llmkit.Retry | None:
        """Ask again a unit whose answer has wrong tags, is cut by the token limit or is empty,
        naming what was wrong; its last problems are the reject when no attempt is left."""
        unit = self._planned_units(record)[index]
        read = self._read(unit, result.completions[0])
        if not isinstance(read, Problems):
            return None
        unit.problems, unit.previous, unit.attempts = read, result.completions[0].text.strip(), attempt
        return llmkit.Retry(self.chat_prompt(self._prompt(unit)), self._final_reject(unit))

    def accept_results(self, record: llmkit.Record, results: list[GenerationResult]) -> llmkit.Outcome:
        planned = self._plan(record)
        assert not isinstance(planned, llmkit.Reject), "prompts() accepted this record"
        doc, units = planned
        for unit, result in zip(units, results, strict=True):
            answer = self._read(unit, result.completions[0])
            assert not isinstance(answer, Problems), "retry() asks again until the answer is usable"
            unit.answer, unit.attempts = answer, 1 + len(result.earlier)
            if result.earlier:
                first = self._read(unit, result.earlier[0].completions[0])
                unit.first_problems = first if isinstance(first, Problems) else None
        return self._rebuild(doc, units)

    def _plan(self, record: llmkit.Record) -> tuple[Document, list[Unit]] | llmkit.Reject:
        """The record's document and its units (the template has checked the ``transfer`` field)."""
        if self._planned is None or self._planned[0] is not record:
            doc = parse_document(record, _inventory(record))
            if isinstance(doc, llmkit.Reject):
                return doc
            self._planned = (record, doc, self._units(0, doc))
        return self._planned[1], self._planned[2]

    def _planned_units(self, record: llmkit.Record) -> list[Unit]:
        planned = self._plan(record)
        assert not isinstance(planned, llmkit.Reject), "prompts() accepted this record"
        return planned[1]

    def _units(self, index: int, doc: Document) -> list[Unit]:
        spans = _spans_by_sentence(doc)
        units = []
        if self.config.unit == "sentence":
            for sent_id, tokens in enumerate(doc.sents):
                unit = Unit(index, "sentence", "", [sent_id])
                marked = self._mark(tokens, spans.get(sent_id, []), unit, sent_id)
                unit.text = marked
                if tokens:  # an empty sentence stays empty, with no call
                    units.append(unit)
        else:
            unit = Unit(index, "document", "", list(range(len(doc.sents))))
            lines = [
                f"<s{sent_id + 1}>{self._mark(tokens, spans.get(sent_id, []), unit, sent_id)}</s{sent_id + 1}>"
                for sent_id, tokens in enumerate(doc.sents)
            ]
            unit.text = "\n".join(lines)
            units.append(unit)
        if doc.title.strip():
            units.append(Unit(index, "title", doc.title.strip(), []))
        return units

    def _mark(self, tokens: list[str], owned: list[tuple[int, int, int, int]], unit: Unit, sent_id: int) -> str:
        """The marked text of one sentence; numbers go in reading order (outer span first) and
        continue across a document unit's sentences."""
        spans = []
        for entity, mention, start, end in sorted(owned, key=lambda o: (o[2], -o[3], o[0], o[1])):
            number = len(unit.owners) + 1
            unit.owners[number] = (entity, mention, sent_id)
            spans.append(Span(number, sent_id, start, end))
        return mark_sentence(tokens, spans, self.spaced_source)

    # -- generation ------------------------------------------------------------------------

    def _prompt(self, unit: Unit) -> str:
        values = {
            "source_lang": language_name(self.config.source_lang),
            "target_lang": language_name(self.config.target_lang),
            "text": unit.text,
        }
        if unit.previous is None:
            return self.template.render(**values)
        assert unit.problems is not None
        return self.retry_template.render(**values, previous=unit.previous, problems=unit.problems.describe())

    def _read(self, unit: Unit, completion: llmkit.Completion) -> MarkedText | str | Problems:
        """A unit's answer: a title's first line, a text's tagged mentions, or what is wrong with it."""
        text = completion.text.strip()
        if unit.kind == "title":
            return _first_line(text)
        if completion.finish_reason == "length":
            return Problems(truncated=["the answer reached the token limit"])
        if not text:
            return Problems(blank=["the answer is empty"])
        homes = {n: sent_id + 1 for n, (_e, _m, sent_id) in unit.owners.items()} if unit.kind == "document" else None
        sentences = len(unit.sentences) if unit.kind == "document" else 0
        return parse_marked(text, list(unit.owners), sentences, homes)

    def _final_reject(self, unit: Unit) -> llmkit.Reject:
        problems = unit.problems or Problems()
        if problems.truncated or problems.blank:
            reason = "truncated" if problems.truncated else "no_answer"
            return llmkit.Reject(reason, f"{_where(unit)} after {unit.attempts} attempts: {problems.describe()}")
        named = sorted(n for n in problems.numbers() if n in unit.owners)
        lost_sentences = [p for p in problems.lost + problems.malformed + problems.duplicated if p.startswith("<s")]
        reason = "sentence_lost" if lost_sentences and not named else "mention_lost"
        whose = "; ".join(
            f"entity {unit.owners[n][0]} mention {unit.owners[n][1]} in sentence {unit.owners[n][2]} (<m{n}>)" for n in named
        )
        detail = f"{_where(unit)} after {unit.attempts} attempts: {problems.describe()}"
        return llmkit.Reject(reason, f"{detail}{'; ' + whose if whose else ''}")

    # -- the translated document -----------------------------------------------------------

    def _rebuild(self, doc: Document, units: list[Unit]) -> llmkit.Outcome:
        sents: list[list[str]] = [[] for _ in doc.sents]
        placed: dict[tuple[int, int], tuple[int, int, str]] = {}
        title = doc.title
        for unit in units:
            if unit.kind == "title":
                title = unit.answer if isinstance(unit.answer, str) and unit.answer else doc.title
                continue
            assert isinstance(unit.answer, MarkedText)
            self._place(unit, unit.answer, sents, placed)
        record = doc.record
        vertex_set = [
            [self._mention(mention, placed.get((e, m)) or _carried_empty(doc, sents, mention)) for m, mention in enumerate(entity)]
            for e, entity in enumerate(record["vertexSet"])
        ]
        out = {**record, "title": title, "sents": sents, "vertexSet": vertex_set, self.config.field: self._stats(doc, units)}
        checked = parse_document(out, _inventory(out))
        if isinstance(checked, llmkit.Reject):  # a bug here, never the model's answer: say so loudly
            raise RuntimeError(  # noqa: TRY004
                f"transfer built an invalid document ({checked.reason}: {checked.detail})")
        return out

    def _place(self, unit: Unit, answer: MarkedText, sents: list[list[str]], placed: dict[tuple[int, int], tuple[int, int, str]]) -> None:
        for tag, text in answer.sentences.items():
            sent_id = unit.sentences[tag - 1] if unit.kind == "document" else unit.sentences[0]
            numbers = [n for n, (home, _s, _e) in answer.mentions.items() if home == tag]
            chars = [(answer.mentions[n][1], answer.mentions[n][2]) for n in numbers]
            tokens, token_spans = tokenize_spans(self.tokenize, text, chars)
            sents[sent_id] = tokens
            for number, (start, end), (lo, hi) in zip(numbers, chars, token_spans, strict=True):
                entity, mention, _sent = unit.owners[number]
                placed[(entity, mention)] = (lo, hi, " ".join(text[start:end].split()))

    def _mention(self, source: dict[str, Any], where: tuple[int, int, str]) -> dict[str, Any]:
        start, end, name = where
        kept = {k: v for k, v in source.items() if k not in SOURCE_POSITION_KEYS}
        return {**kept, "name": name, "pos": [start, end]}

    def _stats(self, doc: Document, units: list[Unit]) -> dict[str, Any]:
        first: dict[str, int] = {}
        for unit in units:
            for kind, count in (unit.first_problems.counts() if unit.first_problems else {}).items():
                first[kind] = first.get(kind, 0) + count
        text_units = [u for u in units if u.kind != "title"]
        title_unit = next((u for u in units if u.kind == "title"), None)
        return {
            "source_title": doc.title,
            "model": self.backend_options.model,
            "source_lang": self.config.source_lang,
            "target_lang": self.config.target_lang,
            "unit": self.config.unit,
            "tokenizer": self.tokenizer_name,
            "mentions": sum(len(u.owners) for u in text_units),
            "empty_mentions_carried": sum(m.start == m.end for entity in doc.entities for m in entity),
            "units": len(text_units),
            "units_retried": sum(u.attempts > 1 for u in text_units),
            "marker_problems_first_attempt": first,
            "stray_characters": sum(u.answer.stray for u in text_units if isinstance(u.answer, MarkedText)),
            "title_translated": bool(title_unit and title_unit.answer),
        }


def _inventory(record: llmkit.Record) -> Any:
    """An inventory of the relation names the document's labels use, so that labels are checked
    (entities, evidence) without needing the dataset's rel2id."""
    labels = record.get("labels")
    names = {lab.get("r") for lab in labels if isinstance(lab, dict)} if isinstance(labels, list) else set()
    return relations_from_names(sorted(n for n in names if isinstance(n, str)))


def _spans_by_sentence(doc: Document) -> dict[int, list[tuple[int, int, int, int]]]:
    """The marked mentions of each sentence; an empty span gets no marker (it has no text to keep)."""
    spans: dict[int, list[tuple[int, int, int, int]]] = {}
    for e, entity in enumerate(doc.entities):
        for m, mention in enumerate(entity):
            if mention.start < mention.end:
                spans.setdefault(mention.sent_id, []).append((e, m, mention.start, mention.end))
    return spans


def _carried_empty(doc: Document, sents: list[list[str]], mention: dict[str, Any]) -> tuple[int, int, str]:
    """Where an empty-span mention goes in the translation: still empty, at the same relative place
    of its sentence, with its name unchanged (JacRED holds a few; asking the model to keep an
    empty tag made every such document fail). Any other mention must have been placed."""
    start, end = mention["pos"]
    if start != end:  # a bug here, never the model's answer
        raise RuntimeError(f"transfer lost the span of the mention {mention!r}")
    source, target = doc.sents[mention["sent_id"]], sents[mention["sent_id"]]
    at = round(start * len(target) / len(source)) if source else 0
    return at, at, mention.get("name", "")


def _first_line(text: str) -> str:
    """A title answer: its first non-blank line, without tags a model may have added."""
    for line in text.splitlines():
        line = TAG.sub("", line).strip()
        if line:
            return line
    return ""


def _where(unit: Unit) -> str:
    if unit.kind == "document":
        return "document"
    return f"sentence {unit.sentences[0]}"
