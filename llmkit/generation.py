"""The generation-step template: a subclass says what to ask and what to keep; the base does the rest.

API in short (all public from ``llmkit``)::

    class Summarise(llmkit.GenerationStep):
        name = "summarise"
        sampling_defaults = {"temperature": 0.2, "max_tokens": 512}   # the user's options win

        def __init__(self, backend_options, field="text", backend=None):
            super().__init__(backend_options, backend, field=field, writes=("summary",))

        def prompt(self, record, text):            # -> Prompt | Reject
            return self.chat_prompt(f"Summarise:\\n{text}")

        def accept(self, record, completions):     # -> Outcome
            return {**record, "summary": completions[0].text}

What the base (:class:`GenerationStep`) owns, in this order for each record of a batch:

1. ``check(record)``: a hook for the subclass's own early rejects (default: none);
2. the fields the step ``writes``: one the record already holds is ``field_exists``
   (:func:`llmkit.existing_field`, with ``earlier`` and ``clash_hint``);
3. the input ``field``, when given: absent or not a string is ``missing_field``; its text is passed
   to ``prompt`` (``text`` is "" when the step has no input field; ``text_field`` names it);
4. ``prompt(record, text)``: the subclass's prompt, or a Reject;

then the surviving prompts of the batch go to the backend in one call, and for each result: an
``error`` of the backend (``too_long``, ``empty_prompt``) is a reject of that reason, a result
with no completion is ``no_answer``, else ``accept(record, completions)`` decides (a record, or a
Reject). ``params`` holds the sampling values, computed once when the step is built from
``sampling_defaults`` and the user's options (so a bad value fails before any model loads).

A step that asks several prompts per record (one per prefix length, say) overrides
``prompts(record, text) -> list[Prompt] | Reject`` and ``accept_results(record, results)``
(the results of its prompts, in order: all answered, for a record one of whose prompts the backend
failed is rejected with the first failure, unless the step keeps ``partial_results``). A step whose
answers may be unusable (markers lost, say) writes ``retry(record, index, result, attempt)``: it
returns a :class:`~llmkit.answers.Retry` (the prompt to ask instead, and the reject should no
attempt be left) and sets ``max_attempts``; the batch's second asks go in one call per round
(:mod:`llmkit.answers`). ``sampling_for(records)`` may set the values of one
batch's call (a token budget from the records, say; declare ``sampling_per_batch = True``). All
prompts of a batch still go in one call.

The call is split in two, so the core can overlap batches (``overlaps``; the executors recognise
the two halves, :class:`llmkit.step.SplitStep`): :meth:`begin` runs steps 1-4 and hands the prompts
to :meth:`Backend.submit` (the vllm engine starts on them at once); :meth:`complete` takes the
results from :meth:`Backend.collect` and accepts them. ``process`` is both at once. Two class
attributes are declared, never guessed from which methods a subclass overrides: a subclass that
writes its own ``process`` (several calls per batch) declares ``overlaps = False`` (its
``process`` then runs whole in ``complete``), and one that overrides ``sampling_for`` declares
``sampling_per_batch`` (True when the values depend on the batch's records: the batch then goes
in one submission). Leaving either unsaid is a ``TypeError`` when the subclass is defined.

The backend is opened on first use, not in ``open()``, through a :class:`LazyBackend`: a step built
with ``backend=`` (a test's :class:`llmkit.testing.ScriptedBackend`) uses that one and never closes
it; steps of one run that use the same model share one ``LazyBackend`` (``shared=``). Building a
step without a backend and without ``--model`` (other than for the openai backend) is the usage
error :meth:`BackendOptions.check_model` says, before anything is opened.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from llmkit.answers import Answers, Retry, reject_of
from llmkit.backends.base import SUBMIT_CHUNK, Backend, Completion, GenerationResult, Prompt, SamplingParams
from llmkit.backends.options import BackendOptions
from llmkit.report import note_backend, note_results
from llmkit.step import Outcome, Record, Reject, Step, existing_field, get_text_field

__all__ = ["GenerationStep", "LazyBackend"]


class LazyBackend:
    """The backend of a run: opened on first use, once, and closed once (by its owner).

    ``backend`` given: that backend is used and never closed here (a test's, or one opened by
    the caller). ``opener`` replaces :func:`llmkit.backends.open_backend` (a plugin's own engine).
    """

    def __init__(
        self,
        backend_options: BackendOptions,
        backend: Backend | None = None,
        *,
        opener: Callable[[BackendOptions], Backend] | None = None,
    ) -> None:
        if backend is None and opener is None:
            backend_options.check_model()  # before anything is opened
        self.backend_options = backend_options
        self._backend = backend
        self._owned = backend is None
        self._opener = opener

    @property
    def opened(self) -> bool:
        return self._backend is not None

    def get(self) -> Backend:
        """The open backend (opening it now if it is not yet)."""
        if self._backend is None:
            if self._opener is not None:
                self._backend = self._opener(self.backend_options)
            else:
                from llmkit.backends import open_backend

                self._backend = open_backend(self.backend_options)
            note_backend(self._backend, self.backend_options)
        return self._backend

    def replace(self, backend: Backend) -> None:
        """Use ``backend`` from now on (not closed here); for tests."""
        self.close()
        self._backend, self._owned = backend, False

    def close(self) -> None:
        if self._owned and self._backend is not None:
            self._backend.close()
        self._backend = None if self._owned else self._backend


class GenerationStep(Step):
    """Base of a step that generates one answer (or ``params.n``) per record; see the module doc."""

    name = "generate"
    batch_size = 256
    #: the next batch's prompts go to the backend before this batch's results are taken
    #: (:class:`llmkit.step.SplitStep`); a subclass with its own ``process`` (several calls per
    #: batch) declares ``overlaps = False``, and its ``process`` then runs whole in ``complete``
    overlaps: ClassVar[bool] = True
    #: ``sampling_for`` reads the batch's records (a token budget from them, say): a subclass
    #: that overrides it declares whether it does; when it does, the batch goes to the backend
    #: in one submission, not in chunks as its prompts are made
    sampling_per_batch: ClassVar[bool] = False
    #: the method's sampling values; the user's ``--temperature`` etc. override them
    sampling_defaults: ClassVar[Mapping[str, Any]] = {}
    #: prompts are chat turns unless ``--no-chat`` (see :meth:`chat_prompt`)
    chat_by_default: ClassVar[bool] = True
    #: asks of one prompt in all, the first included: the ``retry`` hook may ask again up to
    #: ``max_attempts - 1`` times (a step sets it, often from a ``--retries`` option)
    max_attempts: int = 1
    #: a record one of whose prompts the backend failed is rejected with that failure; True hands
    #: ``accept_results`` every result instead, failed ones included (a judge that scores what it can)
    partial_results: ClassVar[bool] = False
    #: the reject a result the backend could not answer stands for (or None): for a step that
    #: makes its own backend calls (:func:`llmkit.answers.reject_of`)
    reject_of = staticmethod(reject_of)

    def __init__(
        self,
        backend_options: BackendOptions,
        backend: Backend | None = None,
        *,
        field: str | None = None,
        writes: Sequence[str] = (),
        earlier: type | tuple[type, ...] | None = None,
        clash_hint: str = "rename it in the input",
        shared: LazyBackend | None = None,
        sampling: Mapping[str, Any] | None = None,
    ) -> None:
        self.backend_options = backend_options
        self.field = field
        self.writes = tuple(writes)
        self.earlier = earlier
        self.clash_hint = clash_hint
        self.model = shared if shared is not None else LazyBackend(backend_options, backend)
        #: sampling values of every generate call: the defaults (``sampling`` overrides the
        #: class's ``sampling_defaults``), then the user's options
        self.params: SamplingParams = backend_options.sampling(**{**self.sampling_defaults, **(sampling or {})})

    @property
    def backend(self) -> Backend:
        """The open backend (opened on first use)."""
        return self.model.get()

    @backend.setter
    def backend(self, backend: Backend) -> None:
        """Use this open backend (a test's); it is not closed by the step."""
        self.model.replace(backend)

    # -- what a subclass writes ----------------------------------------------------------------

    def check(self, record: Record) -> Reject | None:
        """An early reject of the subclass's own, before the field checks (default: none)."""
        return None

    def prompt(self, record: Record, text: str) -> Prompt | Reject:
        """The prompt for ``record`` (``text`` is its ``field``, "" without one), or a Reject."""
        raise NotImplementedError

    def accept(self, record: Record, completions: list[Completion]) -> Outcome:
        """The output record made from the completions (at least one), or a Reject."""
        raise NotImplementedError

    def prompts(self, record: Record, text: str) -> list[Prompt] | Reject:
        """Several prompts for one record (default: the one of :meth:`prompt`)."""
        prompt = self.prompt(record, text)
        return prompt if isinstance(prompt, Reject) else [prompt]

    def accept_results(self, record: Record, results: list[GenerationResult]) -> Outcome:
        """The outcome of the results of one record's prompts (default: :meth:`after` of its one)."""
        if not results:
            return Reject("no_answer", "no prompt was asked")
        return self.after(record, results[0])

    def sampling_for(self, records: list[Record]) -> SamplingParams:
        """The sampling values of the call for these records (default: :attr:`params`)."""
        return self.params

    def retry(self, record: Record, index: int, result: GenerationResult, attempt: int) -> Retry | None:
        """Whether the answer to the record's ``index``-th prompt (its ``attempt``-th ask, from 1) is
        asked again: None keeps it; a :class:`Retry` names the prompt to ask instead and the record's
        reject should no attempt be left (``max_attempts``). Asked of answered prompts only
        (default: every answer is kept)."""
        return None

    # -- helpers -------------------------------------------------------------------------------

    @property
    def text_field(self) -> str:
        """The input field (for a step built with one)."""
        if self.field is None:
            raise TypeError(f"step {self.name!r} has no input field")
        return self.field

    def chat_prompt(self, text: str) -> Prompt:
        """``text`` as one user turn (chat template), or the bare text with ``--no-chat``."""
        return self.backend_options.prompt(text, self.chat_by_default)

    # -- the template ----------------------------------------------------------------------------

    def before(self, record: Record) -> list[Prompt] | Reject:
        """Steps 1-4 of the module doc for one record: its prompts or its reject."""
        early = self.check(record)
        if early is not None:
            return early
        for name in self.writes:
            clash = existing_field(record, name, earlier=self.earlier, hint=self.clash_hint)
            if clash is not None:
                return clash
        text = ""
        if self.field is not None:
            found = get_text_field(record, self.field)
            if isinstance(found, Reject):
                return found
            text = found
        return self.prompts(record, text)

    def after(self, record: Record, result: GenerationResult) -> Outcome:
        """The outcome of one generation result."""
        if result.error is None and result.completions:
            return self.accept(record, result.completions)
        return reject_of(result)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # the two switches are declared, never guessed: a subclass that replaces what one of them
        # describes and leaves it unsaid is refused when it is defined, not run the wrong way
        for method, switch in (("process", "overlaps"), ("sampling_for", "sampling_per_batch")):
            if method in cls.__dict__ and not _declares(cls, switch):
                raise TypeError(f"{cls.__qualname__} defines {method}(): declare {switch} (see GenerationStep)")

    def process(self, records: list[Record]) -> list[Outcome]:
        return self._complete(self._begin(records))

    def begin(self, records: list[Record]) -> Any:
        """The first half of the batch (:meth:`_begin`); for a step that does not overlap, the
        records, which :meth:`complete` hands to ``process``."""
        return self._begin(records) if self.overlaps else records

    def complete(self, begun: Any) -> list[Outcome]:
        """The second half of the batch (:meth:`_complete`), or ``process`` for a step that
        does not overlap."""
        return self._complete(begun) if self.overlaps else self.process(begun)

    def _begin(self, records: list[Record]) -> _Begun:
        """Steps 1-4 for each record, and the batch's prompts handed to the backend, which may
        start on them at once (:meth:`Backend.submit`). A backend that does (``starts_on_submit``)
        gets them a chunk at a time as they are made, when one sampling value serves the batch
        (not ``sampling_per_batch``): the engine starts on the first chunk at once."""
        begun = _Begun(records, [], [], [])
        chunk: int | None = None  # known at the first prompt (a batch without any opens no model)
        prompts: list[Prompt] = []
        for index, record in enumerate(records):
            found = self.before(record)
            if isinstance(found, Reject):
                begun.outcomes.append(found)
                continue
            begun.outcomes.append(None)  # replaced in complete()
            begun.asked.append((index, len(found)))
            prompts.extend(found)
            if chunk is None:
                chunk = self._submit_chunk()
            if chunk and len(prompts) >= chunk:
                self._submit(begun, prompts, self.params)
                prompts = []
        if prompts:
            params = self.params if chunk else self.sampling_for([records[index] for index, _ in begun.asked])
            self._submit(begun, prompts, params)
        return begun

    def _submit_chunk(self) -> int:
        """Prompts per submission: 0 (the whole batch in one) unless the backend starts on a
        submission at once and the batch's sampling values do not depend on its records."""
        if self.sampling_per_batch:
            return 0
        return SUBMIT_CHUNK if self.backend.starts_on_submit else 0

    def _submit(self, begun: "_Begun", prompts: list[Prompt], params: SamplingParams) -> None:
        begun.tickets.append((self.backend.submit(prompts, params), len(prompts)))
        # the backend is open now: the next batches take the size it asks for (the contract asks
        # before each batch; a vllm engine wants several times the sequences it runs at once)
        self.batch_size = self.backend.preferred_batch_size(type(self).batch_size)

    def _complete(self, begun: _Begun) -> list[Outcome]:
        """The backend's results of a begun batch, each record's through :mod:`llmkit.answers`
        (its reject, its retries, then :meth:`accept_results`)."""
        outcomes = begun.outcomes
        answers = Answers(self, begun.records, outcomes)
        results: list[GenerationResult] = []
        waiting = deque(begun.asked)
        start = 0  # where the results of the first waiting record begin

        def accept_ready() -> None:
            # the records whose results are all in, accepted while the engine runs later chunks
            nonlocal start
            while waiting and start + waiting[0][1] <= len(results):
                index, many = waiting.popleft()
                answers.take(index, results[start : start + many])
                start += many

        for ticket, count in begun.tickets:
            got = self.backend.collect(ticket)
            note_results(got)  # tokens and failures, for the run's report
            if len(got) != count:
                raise RuntimeError(f"backend {self.backend.name!r} returned {len(got)} results for {count} prompts")
            results.extend(got)
            accept_ready()
        accept_ready()  # records that asked no prompt at all (when no ticket came)
        answers.finish()  # the answers to ask again, a round per call
        return outcomes

    def planned_batch_size(self) -> int:
        """The batch the backend will ask for (:meth:`Backend.preferred_batch_size`), from its
        class and the options when it is not open yet."""
        if self.model.opened:
            return self.backend.preferred_batch_size(type(self).batch_size)
        from llmkit.backends import default_backend_name
        from llmkit.plugins import load_backend_class

        options = self.backend_options
        backend: type[Backend] = load_backend_class(options.backend or default_backend_name())
        return backend.expected_batch_size(options, type(self).batch_size)

    def close(self) -> None:
        self.model.close()


def _declares(cls: type, name: str) -> bool:
    """Whether ``cls`` or a base below :class:`GenerationStep` sets the class attribute ``name``."""
    return any(name in base.__dict__ for base in cls.__mro__[: cls.__mro__.index(GenerationStep)])


@dataclass(slots=True)
class _Begun:
    """A batch handed to the backend: each record's early outcome (None for one that asked),
    the (record index, prompt count) of those that asked, and the backend's tickets with the
    number of prompts of each, in the order of the prompts."""

    records: list[Record]
    outcomes: list[Outcome]
    asked: list[tuple[int, int]]
    tickets: list[tuple[Any, int]]
