"""Attention: the three scores against their formulas, masking, all steps at once equal to one at a time."""

import pytest
import torch

from lstmkit.seq2seq import Attention, masked_softmax


def test_masked_softmax_gives_padding_no_weight_and_empty_rows_zeros():
    scores = torch.randn(2, 4)
    mask = torch.tensor([[True, True, False, False], [False] * 4])
    w = masked_softmax(scores, mask)
    assert torch.allclose(w[0, :2], torch.softmax(scores[0, :2], 0))
    assert w[0, 2:].abs().sum() == 0 and w[1].abs().sum() == 0


@pytest.mark.parametrize("kind", ["additive", "dot", "general"])
def test_scores_match_the_formulas(kind):
    torch.manual_seed(0)
    att = Attention(kind, 6, 6).double()
    q, h = torch.randn(3, 6, dtype=torch.double), torch.randn(3, 5, 6, dtype=torch.double)
    e = att.scores(q, att.keys(h))
    for b in range(3):
        for s in range(5):
            if kind == "additive":
                want = att.v.weight[0] @ torch.tanh(att.w_query.weight @ q[b] + att.w_value.weight @ h[b, s]
                                                    + att.w_value.bias)
            elif kind == "dot":
                want = q[b] @ h[b, s]
            else:
                want = q[b] @ (att.w_value.weight @ h[b, s])
            assert torch.allclose(e[b, s], want)


@pytest.mark.parametrize("kind", ["additive", "dot", "general"])
def test_all_steps_at_once_equal_step_by_step(kind):
    torch.manual_seed(1)
    att = Attention(kind, 8, 8)
    values = torch.randn(2, 5, 8)
    mask = torch.tensor([[True] * 5, [True] * 2 + [False] * 3])
    q = torch.randn(2, 3, 8)
    keys = att.keys(values)
    ctx, w = att(q, keys, values, mask)
    for t in range(3):
        c1, w1 = att(q[:, t], keys, values, mask)
        assert torch.allclose(ctx[:, t], c1, atol=1e-6) and torch.allclose(w[:, t], w1, atol=1e-6)
    assert torch.allclose(w.sum(-1), torch.ones(2, 3))
    assert w[1, :, 2:].abs().sum() == 0


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="attention must be one of"):
        Attention("cosine", 4, 4)
    with pytest.raises(ValueError, match="query size to equal"):
        Attention("dot", 4, 6)
