"""The generation interface every backend implements.

A backend is opened once per run (``open_backend``) and fed batches. Prompts are plain strings,
chat message lists (rendered with the model's chat template) or lists of token ids. Results come
back one per prompt, in order; a prompt the backend cannot take (longer than the context) gives a
result with ``error`` set instead of raising, so the caller rejects that record and goes on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Union

ChatMessages = list[dict[str, str]]

#: Prompts per submission to a backend that starts on a submission at once (``starts_on_submit``):
#: it begins the first chunk while the caller makes or renders the next
#: (benchmarks/generation_overhead.py measures what is left for the engine to wait for).
SUBMIT_CHUNK = 64


@dataclass(frozen=True, slots=True)
class TokenIds:
    """A prompt given as token ids (no template, no BOS added)."""

    ids: list[int]


Prompt = Union[str, ChatMessages, TokenIds]


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """Sampling settings of one generate call. ``top_k`` 0 and ``top_p`` 1.0 mean off;
    ``temperature`` 0 means greedy."""

    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    seed: int | None = None
    n: int = 1


@dataclass(slots=True)
class Completion:
    text: str
    token_ids: list[int]
    #: "stop" (EOS or a stop string), "length" (max_tokens or context reached)
    finish_reason: str


@dataclass(slots=True)
class GenerationResult:
    completions: list[Completion] = field(default_factory=list)
    #: set when the prompt could not be run: "too_long" (prompt + 1 new token does not fit the
    #: context), "empty_prompt" (no tokens at all to condition on)
    error: str | None = None
    detail: str | None = None
    prompt_token_ids: list[int] | None = None
    #: the answers before this one, oldest first, when the generation step asked its prompt
    #: again (a step's ``retry`` hook); a backend leaves it empty
    earlier: list[GenerationResult] = field(default_factory=list)


@dataclass(slots=True)
class TokenScores:
    """Teacher-forced log-probabilities of a text: one per token after the first one scored.

    ``token_ids[i]`` is scored by ``logprobs[i]`` = log p(token_ids[i] | all tokens before it).
    The first token of the text (or BOS) has no log-prob and is not listed.
    """

    token_ids: list[int]
    logprobs: list[float]
    error: str | None = None
    detail: str | None = None


@dataclass(slots=True)
class TokenDistributionScores(TokenScores):
    """:class:`TokenScores` plus two moments of each scored position's full next-token distribution.

    At position ``i`` with distribution p over the vocabulary: ``mean_logprobs[i]`` = E_{z~p}[log p(z)]
    and ``std_logprobs[i]`` = sqrt(Var_{z~p}[log p(z)]), what Min-K%++ normalises a token's log-prob by.
    """

    mean_logprobs: list[float] = field(default_factory=list)
    std_logprobs: list[float] = field(default_factory=list)


class Backend(ABC):
    """One model behind one generation interface."""

    name: ClassVar[str] = "backend"
    #: can give teacher-forced token log-probs (``score``); a backend may decide per instance
    #: (the openai backend knows it once it has seen the server)
    can_score: bool = False
    #: completions carry their token ids (``Completion.token_ids``); the openai backend has them
    #: only from a vLLM server, other servers return text alone
    gives_token_ids: bool = True
    #: starts generating when a batch is submitted (:meth:`submit`), before it is collected: an
    #: engine in another process or a server; a caller may then submit a batch in chunks
    starts_on_submit: bool = False
    #: can look at whole next-token distributions (``score_distribution``, ``next_token_logprobs``);
    #: an optional capability, only of backends that hold the model in this process (hf)
    can_score_full: ClassVar[bool] = False
    #: the settings the backend was built with, by name, as a run report lists them (only those
    #: it uses); None: a backend that does not say, for which a report lists every backend option
    #: that is not a sampling value
    engine_args: dict[str, Any] | None = None

    @abstractmethod
    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[GenerationResult]:
        """Generate ``params.n`` completions for each prompt, one result per prompt, in order."""

    def submit(self, prompts: Sequence[Prompt], params: SamplingParams) -> Any:
        """Hand over a batch's prompts and return a ticket for :meth:`collect`. An engine that
        runs on its own (vllm) starts on them at once, so a caller can prepare the next batch
        meanwhile; the default keeps them and generates in ``collect``."""
        return list(prompts), params

    def collect(self, ticket: Any) -> list[GenerationResult]:
        """The results of a submitted batch, as :meth:`generate` gives them. Tickets are
        collected in the order submitted, each once."""
        prompts, params = ticket
        return self.generate(prompts, params)

    def score(self, texts: Sequence[str]) -> list[TokenScores]:
        """Teacher-forced token log-probs of each text (BOS prepended when the model uses one)."""
        from llmkit.errors import UsageError

        raise UsageError(f"the {self.name!r} backend cannot give token log-probabilities")

    def score_distribution(self, texts: Sequence[str]) -> list[TokenDistributionScores]:
        """Like :meth:`score`, plus the mean and std of log p over the vocabulary at each position.
        Only where ``can_score_full``."""
        from llmkit.errors import UsageError

        raise UsageError(f"the {self.name!r} backend cannot give full next-token distributions; use --backend hf")

    def next_token_logprobs(self, prompts: Sequence[Prompt]) -> list[Any]:
        """The log-probs over the whole vocabulary of the token after each prompt: one float32 numpy
        array of shape ``(vocab_size,)`` per prompt, or None for a prompt that does not fit the
        context (or has no tokens). Only where ``can_score_full``."""
        from llmkit.errors import UsageError

        raise UsageError(f"the {self.name!r} backend cannot give full next-token distributions; use --backend hf")

    #: set by subclasses that know them
    _max_model_len: int | None = None
    _tokenizer: Any = None

    @property
    def max_model_len(self) -> int | None:
        """The model's context length in tokens, when known."""
        return self._max_model_len

    @property
    def tokenizer(self) -> Any:
        """The Hugging Face tokenizer of the model, when the backend has one locally."""
        return self._tokenizer

    def preferred_batch_size(self, step_default: int) -> int:
        """Records per batch a step should feed this backend when the user gives no
        ``--batch-size``. ``step_default`` is the step's own default, sized for a model held in
        this process (hf); an engine that schedules sequences itself (vllm) wants more, so that
        it never runs dry between batches. Steps set their ``batch_size`` from this in ``open()``."""
        return step_default

    @classmethod
    def expected_batch_size(cls, options: Any, step_default: int) -> int:
        """What :meth:`preferred_batch_size` will say once a backend of this class opens with
        ``options`` (a :class:`~llmkit.backends.BackendOptions`), guessed without opening it: for
        an executor that cuts the input before any replica opens its backend (Ray)."""
        return step_default

    def close(self) -> None:  # noqa: B027 (optional: a backend without resources has nothing to free)
        """Free the model (GPU memory, worker processes, connections)."""

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
