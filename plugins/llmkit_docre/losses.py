"""ATLOP's adaptive-thresholding loss and DREEAM's evidence KL, and the decisions they imply.

Class 0 is the threshold (TH) class. For a pair with positive classes P and negatives N:
``L1 = -sum_{r in P} log softmax_{P + TH}(logits)_r`` ranks each positive above TH,
``L2 = -log softmax_{N + TH}(logits)_TH`` ranks TH above every negative; the loss is the mean of
L1 + L2 over pairs. At inference a class is predicted when its logit exceeds TH's, at most the
top ``num_labels`` (4) of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

#: what the anchors put for log 0 and for the zeros of a distribution
_BIG = 1e30
_TINY = 1e-30


def at_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Adaptive-thresholding loss. ``labels`` is multi-hot (pairs, classes); column 0 marks NA."""
    import torch.nn.functional as F

    labels = labels.clone().float()
    th_label = labels.new_zeros(labels.shape)
    th_label[:, 0] = 1.0
    labels[:, 0] = 0.0
    positive_mask = labels + th_label
    negative_mask = 1 - labels
    loss1 = -(F.log_softmax(logits - (1 - positive_mask) * _BIG, dim=-1) * labels).sum(1)
    loss2 = -(F.log_softmax(logits - (1 - negative_mask) * _BIG, dim=-1) * th_label).sum(1)
    return (loss1 + loss2).mean()


def decide(logits: torch.Tensor, num_labels: int = 4) -> torch.Tensor:
    """Multi-hot predictions (pairs, classes): logits above TH's, within the top ``num_labels``;
    column 0 is set for pairs with no relation."""
    import torch

    mask = logits > logits[:, :1]
    if 0 < num_labels < logits.shape[1]:
        kth = torch.topk(logits, num_labels, dim=1).values[:, -1:]
        mask &= logits >= kth
    output = mask.to(logits.dtype)
    output[:, 0] = (output.sum(1) == 0).to(logits.dtype)
    return output


def evidence_kl(sentence_attention: torch.Tensor, evidence_counts: torch.Tensor) -> torch.Tensor:
    """DREEAM's evidence loss: KL(target || sentence attention), summed over sentences and
    averaged over the pairs given (``batchmean``). The target is each pair's evidence counts
    normalised to a distribution; zeros of both sides are clamped to 1e-30 as in the anchor, so a
    pair without evidence contributes about nothing but still counts in the mean."""
    import torch.nn.functional as F

    target = evidence_counts.float() / (evidence_counts.float().sum(-1, keepdim=True) + _TINY)
    target = target.clamp_min(_TINY)
    return F.kl_div(sentence_attention.clamp_min(_TINY).log(), target, reduction="batchmean")


def attention_kl(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """The self-training term: KL(teacher token attention || student token attention), batchmean
    over pairs, zeros clamped to 1e-30 on both sides."""
    import torch.nn.functional as F

    return F.kl_div(student.clamp_min(_TINY).log(), teacher.clamp_min(_TINY), reduction="batchmean")
