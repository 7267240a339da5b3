"""The `mia score` step: membership scores for each text, one backend opened per run."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import replace
from typing import Any

import llmkit
from llmkit import BackendOptions, GenerationStep, LazyBackend, Outcome, Record, Reject, Step, UsageError
from llmkit.backends import Backend, TokenScores
from llmkit_mia import likelihood, official, samia
from llmkit_mia.config import METHODS, ScoreConfig, parse_methods

__all__ = ["METHODS", "ScoreConfig", "ScoreStep", "parse_methods"]


#: Where a record says why an asked score is null: {method: reason}.
UNDEFINED_FIELD = "mia_undefined"


class ScoreStep(Step):
    """Adds ``mia`` = {method: score} (merged into an existing ``mia`` dict) to each record; a score
    the method does not define for the text (--compat official Min-K% on a text with int(k x T) = 0
    tokens) is null, with its reason in ``mia_undefined``."""

    name = "mia"
    batch_size = 16

    def __init__(self, backend_options: BackendOptions, config: ScoreConfig, backend: Backend | None = None) -> None:
        self.options = backend_options
        self.config = config
        self.model = LazyBackend(backend_options, backend)  # a missing --model: refused now
        self.distributions: Any = None

    @property
    def backend(self) -> Backend:
        """The open backend (opened on first use)."""
        return self.model.get()

    def open(self) -> None:
        if self.options.chat:
            raise UsageError("mia continues and scores the raw text; --chat does not apply")
        if self.config.scoring and not self.backend.can_score:
            raise UsageError(
                f"the {self.backend.name!r} backend cannot give token log-probabilities, which "
                f"{', '.join(self.config.scoring)} need; use --backend hf or vllm, or openai with a vLLM "
                "server (samia needs none)"
            )
        if "minkpp" in self.config.method_names:
            self.distributions = self._open_distributions()

    def _open_distributions(self) -> Any:
        """minkpp's source of full next-token distributions: the backend's own (hf), else a
        transformers copy of the model loaded here (vllm), else a usage error (openai)."""
        if self.backend.can_score_full:
            return None
        if self.backend.name == "openai":
            raise UsageError("minkpp needs the model's full next-token distributions: use --backend hf or vllm")
        from llmkit_mia.distributions import DistributionScorer

        scorer = DistributionScorer(self.options)
        scorer.open()
        return scorer

    def close(self) -> None:
        if self.distributions is not None:
            self.distributions.close()
        self.model.close()

    def process(self, records: list[Record]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        texts: dict[int, str] = {}
        for i, record in enumerate(records):
            clash = self._clash(record)
            text = clash or llmkit.get_text_field(record, self.config.field)
            if isinstance(text, Reject):
                outcomes.append(text)
            elif self._too_short(text):
                outcomes.append(Reject("too_short", self._too_short_detail))
            else:
                outcomes.append(None)
                texts[i] = text
        scores: dict[int, dict[str, float | None]] = {i: {} for i in texts}
        samples: dict[int, list[str]] = {}
        undefined: dict[int, dict[str, str]] = {}
        if self.config.sampling:
            self._sample(texts, scores, samples, outcomes)
        if self.config.scoring:
            self._likelihoods(texts, scores, outcomes, undefined)
        for i, record in enumerate(records):
            if outcomes[i] is None:
                outcomes[i] = self._output(record, scores[i], samples.get(i), undefined.get(i, {}))
        return outcomes

    def _too_short(self, text: str) -> bool:
        config = self.config
        if config.official:  # the official code scores any text; SaMIA still needs a prompt
            return bool(config.sampling) and not official.prompt_of(text, config.prefix_ratio)
        if len(samia.words_of(text)) < 2:  # every method: too little text to say anything of
            return True
        return bool(config.sampling) and samia.split_text(text, config.prefix_ratio, config.ngram) is None

    @property
    def _too_short_detail(self) -> str:
        if self.config.official:
            return "samia needs at least one prefix word (int(words x --prefix-ratio) >= 1)"
        if not self.config.sampling:
            return "needs at least 2 words"
        return f"needs at least 2 words, a non-empty prefix and a reference of {self.config.ngram} word(s) or more"

    def _clash(self, record: Record) -> Reject | None:
        """``field_exists`` when writing would overwrite the input's own data: ``mia`` is merged
        into only when it is an object (an earlier run's scores), and ``mia_samples`` (with
        --keep-samples) replaced only when it is a list (an earlier run's samples)."""
        clash = llmkit.existing_field(record, "mia", earlier=dict)
        if clash is None:
            clash = llmkit.existing_field(record, UNDEFINED_FIELD, earlier=dict)
        if clash is None and self.config.keep_samples:
            clash = llmkit.existing_field(record, "mia_samples", earlier=list)
        return clash

    def _output(
        self, record: Record, scores: dict[str, float | None], samples: list[str] | None, undefined: dict[str, str]
    ) -> Record:
        previous = record.get("mia")
        merged = {**previous, **scores} if isinstance(previous, dict) else scores
        out = {**record, "mia": {m: merged[m] for m in sorted(merged, key=_method_order)}}
        # an earlier run's reasons stay for the methods this run did not score again
        reasons = {m: r for m, r in (record.get(UNDEFINED_FIELD) or {}).items() if m not in scores}
        reasons.update(undefined)
        if reasons:
            out[UNDEFINED_FIELD] = {m: reasons[m] for m in sorted(reasons, key=_method_order)}
        else:
            out.pop(UNDEFINED_FIELD, None)
        if self.config.keep_samples and samples is not None:
            out["mia_samples"] = samples
        return out

    def _sample(self, texts: dict[int, str], scores: dict, samples: dict, outcomes: list[Outcome]) -> None:
        config, backend = self.config, self.backend
        if config.official:
            prompts = {i: official.prompt_of(t, config.prefix_ratio) for i, t in texts.items()}
        else:
            splits = {i: samia.split_text(t, config.prefix_ratio, config.ngram) for i, t in texts.items()}
            prompts = {i: split.prefix for i, split in splits.items()}  # type: ignore[union-attr]
        groups: dict[int, list[int]] = defaultdict(list)
        for i in texts:
            budget = self._official_budget(prompts[i]) if config.official else self._budget(splits[i])  # type: ignore[arg-type]
            groups[budget].append(i)
        base = self.options.sampling(temperature=1.0, top_k=50, top_p=1.0)
        for budget, members in sorted(groups.items()):
            params = replace(base, max_tokens=budget, n=config.num_samples)
            results = backend.generate([prompts[i] for i in members], params)
            for i, result in zip(members, results, strict=True):
                failed = GenerationStep.reject_of(result)  # the template's rejects: too_long, ..., no_answer
                if failed is not None:
                    outcomes[i] = failed
                    continue
                continuations = [c.text for c in result.completions]
                samples[i] = continuations
                if config.official:
                    plain, with_zlib = official.samia_scores(texts[i], prompts[i], continuations, config.ngram)
                    for method, value in (("samia", plain), ("samia-zlib", with_zlib)):
                        if method in config.method_names:
                            scores[i][method] = value
                    continue
                reference = splits[i].reference  # type: ignore[union-attr]
                if "samia" in config.method_names:
                    scores[i]["samia"] = samia.samia_score(continuations, reference, config.ngram)
                if "samia-zlib" in config.method_names:
                    scores[i]["samia-zlib"] = samia.samia_zlib_score(continuations, reference, config.ngram)

    def _budget(self, split: samia.Split) -> int:
        if self.options.max_tokens is not None:
            return self.options.max_tokens
        tokens = samia.count_reference_tokens(split.reference, self.backend.tokenizer)
        return samia.token_budget(tokens)

    def _official_budget(self, prompt: str) -> int:
        """SaMIA's max_length=1024 (prompt included, BOS too where the tokenizer adds one)."""
        if self.options.max_tokens is not None:
            return self.options.max_tokens
        tokenizer = self.backend.tokenizer
        if tokenizer is None:
            count = math.ceil(len(prompt.encode("utf-8")) / samia.BYTES_PER_TOKEN)  # estimate, as above
        else:
            count = len(tokenizer(prompt)["input_ids"])
        return official.token_budget(count, self.backend.max_model_len)

    def _likelihoods(self, texts: dict[int, str], scores: dict, outcomes: list[Outcome], undefined: dict) -> None:
        alive = [i for i in texts if outcomes[i] is None]
        if not alive:
            return
        config = self.config
        batch = [texts[i] for i in alive]
        stats: list[Any] = [None] * len(alive)
        token_scores: list[TokenScores]
        if "minkpp" in config.method_names and self.distributions is None:
            with_moments = self.backend.score_distribution(batch)
            stats = [_stats_of(s) for s in with_moments]
            token_scores = list(with_moments)
        else:
            token_scores = self.backend.score(batch)
            if self.distributions is not None:
                stats = self.distributions.stats(batch)
        for i, scored, stat in zip(alive, token_scores, stats, strict=True):
            error = scored.error or (stat.error if stat is not None else None)
            if error is not None:
                outcomes[i] = Reject(error, scored.detail)
                continue
            if not scored.logprobs:
                outcomes[i] = Reject("too_short", "no token to score")
                continue
            values = {m: _likelihood(m, scored.logprobs, stat, texts[i], config) for m in config.scoring}
            why = f"int({config.mink_k} x {len(scored.logprobs)} tokens) = 0 tokens to average"
            missing = {m: why for m, v in values.items() if v is None}
            if len(missing) == len(values) and not scores[i]:  # no asked score is defined (samia's included)
                outcomes[i] = Reject("too_short", why)
                continue
            for method, value in values.items():
                scores[i][method] = None if value is None else likelihood.finite(value)
            if missing:
                undefined[i] = missing


def _likelihood(method: str, logprobs: list[float], stat: Any, text: str, config: ScoreConfig) -> float | None:
    """The method's score; None only under --compat official, where Min-K%'s count is 0."""
    if method == "loss":
        return likelihood.loss_score(logprobs)
    if method == "zlib":
        return likelihood.zlib_score(logprobs, text)
    if method == "mink":
        if config.official:
            return official.lowest_k_mean(logprobs, config.mink_k)
        return likelihood.mink_score(logprobs, config.mink_k)
    if config.official:
        return official.lowest_k_mean(likelihood.minkpp_values(stat.logprobs, stat.means, stat.stds), config.mink_k)
    return likelihood.minkpp_score(stat.logprobs, stat.means, stat.stds, config.mink_k)


def _stats_of(scored: Any) -> Any:
    from llmkit_mia.distributions import PositionStats

    return PositionStats(scored.logprobs, scored.mean_logprobs, scored.std_logprobs, scored.error)


def _method_order(name: str) -> int:
    return METHODS.index(name) if name in METHODS else len(METHODS)
