"""docre loss pieces and pooling against hand computation; window merging against one pass."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from llmkit_docre.encoder import WindowEncoder, window_starts  # noqa: E402
from llmkit_docre.losses import at_loss, decide, evidence_kl  # noqa: E402
from llmkit_docre.model import entity_pool, localized_context, sentence_attention  # noqa: E402


def _log_softmax(values, index):
    return values[index] - math.log(sum(math.exp(v) for v in values))


def test_at_loss_by_hand():
    logits = [[0.5, 2.0, -1.0, 0.3], [1.0, 0.2, 0.4, -0.5]]
    labels = [[0, 1, 0, 1], [1, 0, 0, 0]]  # pair 0: classes 1 and 3; pair 1: NA
    # pair 0: L1 over {TH, 1, 3} for each positive; L2 over {TH, 2} for TH
    l1 = -(_log_softmax([0.5, 2.0, 0.3], 1) + _log_softmax([0.5, 2.0, 0.3], 2))
    l2 = -_log_softmax([0.5, -1.0], 0)
    # pair 1: no positive; L2 over all classes
    m2 = -_log_softmax([1.0, 0.2, 0.4, -0.5], 0)
    expected = ((l1 + l2) + m2) / 2
    got = at_loss(torch.tensor(logits), torch.tensor(labels, dtype=torch.float))
    assert float(got) == pytest.approx(expected, rel=1e-6)


def test_decide_threshold_and_top_k():
    logits = torch.tensor([[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, -1.0], [0.0, -1.0, -2.0, -0.5, -3.0, -4.0, -5.0]])
    out = decide(logits, num_labels=4)
    assert out[0].tolist() == [0, 0, 1, 1, 1, 1, 0]  # above TH, but only the top 4
    assert out[1].tolist() == [1, 0, 0, 0, 0, 0, 0]  # nothing above TH: NA


def test_evidence_kl_by_hand():
    attn = torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.2, 0.0]])
    counts = torch.tensor([[1.0, 1.0, 0.0], [0.0, 2.0, 0.0]])
    tiny = 1e-30
    pair0 = 0.5 * math.log(0.5 / 0.6) + 0.5 * math.log(0.5 / 0.3) + tiny * (math.log(tiny) - math.log(0.1))
    pair1 = tiny * (math.log(tiny) - math.log(0.2)) + 1.0 * math.log(1.0 / 0.2) + tiny * (math.log(tiny) - math.log(tiny))
    assert float(evidence_kl(attn, counts)) == pytest.approx((pair0 + pair1) / 2, rel=1e-6)


def test_logsumexp_pooling_and_localized_context_by_hand():
    hidden = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 1.0], [0.5, 0.5]])
    # 1 head, 4 tokens; rows are each token's attention
    attention = torch.tensor([[[0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.25, 0.25], [0.7, 0.1, 0.1, 0.1], [0.0, 0.0, 0.5, 0.5]]])
    entities, atts = entity_pool(hidden, attention, [[0, 2], [1], [9]])  # the third mention is cut off
    assert entities[0].tolist() == pytest.approx([math.log(math.e + math.e**3), math.log(1 + math.e)])
    assert entities[1].tolist() == [0.0, 2.0] and entities[2].tolist() == [0.0, 0.0]
    assert atts[0, 0].tolist() == pytest.approx([0.4, 0.15, 0.2, 0.25])
    context, weights = localized_context(hidden, atts, torch.tensor([0]), torch.tensor([1]))
    product = [0.4 * 0.25, 0.15 * 0.25, 0.2 * 0.25, 0.25 * 0.25]
    a = [p / sum(product) for p in product]
    assert weights[0].tolist() == pytest.approx(a)
    assert context[0].tolist() == pytest.approx([a[0] * 1 + a[2] * 3 + a[3] * 0.5, a[1] * 2 + a[2] * 1 + a[3] * 0.5])
    sentences = sentence_attention(weights, [(0, 2), (2, 3)], offset=1)  # positions 1-2, then 3
    assert sentences[0].tolist() == pytest.approx([a[1] + a[2], a[3]])


def test_window_starts_follow_the_anchor():
    assert window_starts(100, 510) == [0]
    assert window_starts(700, 510) == [0, 190]  # two windows: the start and the end
    assert window_starts(1500, 510) == [0, 495, 990]


class _TokenwiseModel(torch.nn.Module):
    """Hidden state = a function of the token alone; attention = uniform over the window's real
    tokens. Windowed and one-pass runs must then agree: hidden states exactly, attention rows as
    the renormalised sum the anchors compute."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(100, 3)

    def forward(self, input_ids, attention_mask, output_attentions, output_hidden_states):
        h = self.embed(input_ids)
        att = attention_mask[:, None, None, :].float().expand(-1, 2, input_ids.shape[1], -1)
        att = att / att.sum(-1, keepdim=True)
        from types import SimpleNamespace

        return SimpleNamespace(hidden_states=(h, h, h), attentions=(att, att, att))


class _Tok:
    pad_token_id = 0

    def __call__(self, text, add_special_tokens=True):
        return {"input_ids": [1, 50, 2] if add_special_tokens else [50]}


def test_windows_merge_hidden_states_as_one_pass():
    model = _TokenwiseModel()
    content = [3 + (i % 40) for i in range(30)]
    one = WindowEncoder(model, _Tok(), window=64)([content])[0]
    split = WindowEncoder(model, _Tok(), window=12)([content])[0]  # 10 content tokens a window: 3 windows
    assert torch.allclose(one[0], split[0], atol=1e-6)
    # attention: each window attends uniformly over its 12 tokens; merged rows renormalised
    rows = split[1][0]
    assert torch.allclose(rows.sum(-1), torch.ones(32), atol=1e-6)
    # [CLS] is kept from the first window only, which keeps its positions 0..10 (not its [SEP]):
    # 1/12 each there, renormalised to 1/11
    assert rows[0, :11].tolist() == pytest.approx([1 / 11] * 11) and float(rows[0, 11:].sum()) == 0


def test_a_short_document_batched_with_a_long_one_is_encoded_as_alone():
    model = _TokenwiseModel()
    enc = WindowEncoder(model, _Tok(), window=12)
    short, long = [5, 6, 7], [3 + (i % 40) for i in range(30)]
    alone = enc([short])[0]
    together = enc([short, long])[0]
    assert torch.equal(alone[0], together[0]) and torch.equal(alone[1], together[1])


class _ContextModel(torch.nn.Module):
    """Hidden states and attentions that depend on the whole window (so windows disagree where
    they overlap), three layers that differ."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.embed = torch.nn.Embedding(100, 4)

    def forward(self, input_ids, attention_mask, output_attentions, output_hidden_states):
        from types import SimpleNamespace

        e = self.embed(input_ids)
        m = attention_mask[..., None].float()
        context = (e * m).sum(1, keepdim=True) / m.sum(1, keepdim=True)
        hidden = tuple(e * k + context for k in (1.0, 2.0, 3.0, 4.0))
        atts = []
        for h in hidden[1:]:
            scores = torch.einsum("bld,bmd->blm", h, h) / 4 - (1 - attention_mask[:, None, :].float()) * 1e4
            atts.append(torch.stack([scores.softmax(-1), (scores / 2).softmax(-1)], dim=1))
        return SimpleNamespace(hidden_states=hidden, attentions=tuple(atts))


def _long_seq_reference(model, ids, window, start, end):
    """ATLOP/DREEAM ``long_seq.process_long_input`` for one document over the window, written
    out with 512 replaced by ``window`` (last 3 layers averaged, as DREEAM)."""
    import torch.nn.functional as F

    c = len(ids)
    ids_t = torch.tensor(ids)
    first = torch.cat([ids_t[: window - len(end)], torch.tensor(end)])
    second = torch.cat([torch.tensor(start), ids_t[c - window + len(start) : c]])
    out = model(torch.stack([first, second]), torch.ones(2, window, dtype=torch.long), True, True)
    seq = torch.stack(out.hidden_states[-3:], dim=1).mean(1)
    att = torch.stack(out.attentions[-3:], dim=1).mean(1)
    o1 = F.pad(seq[0][: window - len(end)], (0, 0, 0, c - window + len(end)))
    m1 = F.pad(torch.ones(window - len(end)), (0, c - window + len(end)))
    a1 = F.pad(att[0][:, : window - len(end), : window - len(end)], (0, c - window + len(end), 0, c - window + len(end)))
    shift = c - window + len(start)
    o2 = F.pad(seq[1][len(start) :], (0, 0, shift, 0))
    m2 = F.pad(torch.ones(window - len(start)), (shift, 0))
    a2 = F.pad(att[1][:, len(start) :, len(start) :], (shift, 0, shift, 0))
    merged = (o1 + o2) / (m1 + m2 + 1e-10).unsqueeze(-1)
    a = a1 + a2
    return merged, a / (a.sum(-1, keepdim=True) + 1e-10)


@pytest.mark.parametrize("specials", [([1], [2]), ([1], [2, 2])])  # BERT-like, RoBERTa-like
def test_two_windows_merge_as_long_seq_does(specials):
    start, end = specials

    class Tok:
        pad_token_id = 0

        def __call__(self, text, add_special_tokens=True):
            return {"input_ids": [*start, 50, *end] if add_special_tokens else [50]}

    model = _ContextModel()
    content = [3 + (i * 7) % 40 for i in range(15)]  # 15 content pieces, windows of 12: two windows
    hidden, attention = WindowEncoder(model, Tok(), window=12, layers=3)([content])[0]
    ref_hidden, ref_attention = _long_seq_reference(model, start + content + end, 12, start, end)
    assert torch.allclose(hidden, ref_hidden, atol=1e-6)
    assert torch.allclose(attention, ref_attention, atol=1e-6)
