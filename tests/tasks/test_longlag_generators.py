"""The long-lag generators produce the specified sequences, distributions and targets (statistically)."""

from __future__ import annotations

import math
import random

import pytest
import torch

from lstmkit.tasks.longlag import make_task
from lstmkit.tasks.longlag.classify import ORDER_SYMBOLS
from lstmkit.tasks.longlag.reber import SYMBOLS, ContinualReber, embedded_reber

G = lambda seed=0: torch.Generator().manual_seed(seed)  # noqa: E731


def _walk(s: str) -> bool:
    """An independent recogniser of the Reber grammar."""
    edges = {0: {"B": 1}, 1: {"T": 2, "P": 3}, 2: {"S": 2, "X": 4}, 3: {"T": 3, "V": 5}, 4: {"X": 3, "S": 6},
             5: {"P": 4, "V": 6}, 6: {"E": 7}}
    state = 0
    for ch in s:
        if ch not in edges.get(state, {}):
            return False
        state = edges[state][ch]
    return state == 7


def test_embedded_reber_strings_follow_the_grammar_and_legal_sets_hold_the_next_symbol():
    rng = random.Random(0)
    second = []
    for _ in range(2000):
        ids, legal = embedded_reber(rng)
        s = "".join(SYMBOLS[i] for i in ids)
        assert s[0] == "B" and s[-1] == "E" and s[1] == s[-2] and s[1] in "TP"
        assert _walk(s[2:-2]), s
        for t in range(len(ids) - 1):
            assert ids[t + 1] in legal[t]
        assert legal[-1] == frozenset() and legal[-3] == frozenset({ids[1]})
        second.append(s[1] == "T")
    assert abs(sum(second) / len(second) - 0.5) < 0.04


def test_reber_batch_marks_legal_targets_and_draws_from_the_fixed_training_set():
    task = make_task("reber")
    b = task.sample(64, G())
    ids = b.x.argmax(-1)
    for k in range(64):
        L = int(b.lengths[k])
        assert b.mask[: L - 1, k].all() and not b.mask[L - 1:, k].any()
        assert b.legal[torch.arange(L - 1), k, ids[1:L, k]].all()
        s = ids[:L, k].tolist()
        assert any(s == tr for tr, _ in task.train_set)


def test_continual_reber_stream_has_no_resets_and_counts_completed_strings():
    task = ContinualReber(chunk=200)
    b = task.sample(3, G())
    assert b.mask.all()                                               # every symbol has a legal successor
    ids = b.x.argmax(-1)
    assert b.legal[torch.arange(199)[:, None], torch.arange(3), ids[1:]].all()
    s = "".join(SYMBOLS[i] for i in ids[:, 0].tolist())
    assert "EB" in s                                                  # a string ends, the next begins
    assert 3 * 200 / 30 < b.sequences < 3 * 200 / 8


def test_2a_has_two_sequences_and_the_last_symbol_as_target():
    b = make_task("2a", p=10).sample(4000, G())
    ids = b.x.argmax(-1)                                              # (11, B)
    assert (ids[1:-1] == torch.arange(9)[:, None]).all() and (ids[0] == ids[-1]).all()
    assert abs((ids[0] == 9).float().mean() - 0.5) < 0.03
    assert b.mask.sum() == 4000 and b.mask[-2].all()
    assert torch.equal(b.target[-2].argmax(-1), ids[-1] - 9)


def test_2b_middle_symbols_are_uniform_and_only_the_end_is_signalled():
    b = make_task("2b", p=10).sample(4000, G())
    ids = b.x.argmax(-1)
    middle = ids[1:-1].flatten()
    freq = torch.bincount(middle, minlength=9).float() / middle.numel()
    assert middle.max() <= 8 and (freq - 1 / 9).abs().max() < 0.01
    assert b.mask.sum() == 4000 and b.mask[-2].all()
    assert torch.equal(b.target[-2].argmax(-1), ids[-1] - 9)


def test_2c_lags_lengths_and_trigger():
    q, p, n = 40, 20, 6000
    b = make_task("2c", T=q, p=p).sample(n, G())
    ids, L = b.x.argmax(-1), b.lengths
    cols = torch.arange(n)
    assert (L >= q + 4).all()
    assert abs(L.float().mean().item() - (q + 4 + 9)) < 0.4          # extra distractors: geometric, mean 9
    assert (ids[0] == p + 1).all() and (ids[L - 2, cols] == p).all() and torch.equal(ids[L - 1, cols], ids[1])
    valid = torch.arange(int(L.max()))[:, None] < L
    body = valid.clone()
    body[:2] = False
    body[L - 2, cols] = False
    body[L - 1, cols] = False
    assert (ids[body] < p).all()                                      # distractors only in between
    freq = torch.bincount(ids[body], minlength=p).float() / body.sum()
    assert (freq - 1 / p).abs().max() < 0.005
    assert torch.equal(b.mask, torch.zeros_like(b.mask).index_put_((L - 2, cols), torch.tensor(True)))


def test_3a_first_elements_decide_the_class_and_the_rest_is_noise():
    T, N, n = 60, 3, 4000
    b = make_task("3a", T=T, N=N).sample(n, G())
    x, L = b.x[..., 0], b.lengths
    assert ((L >= T) & (L <= T + T // 10)).all()
    cls1 = b.target[L - 1, torch.arange(n), 0]
    assert torch.equal(x[:N], (2 * cls1 - 1).expand(N, n))
    noise = x[N:T]
    assert abs(noise.mean().item()) < 0.01 and abs(noise.var().item() - 0.2) < 0.01
    assert abs(cls1.mean().item() - 0.5) < 0.03


@pytest.mark.parametrize("name", ["adding", "multiplication"])
def test_adding_and_multiplication_markers_values_and_targets(name):
    T, n = 100, 5000
    b = make_task(name, T=T).sample(n, G())
    v, m, L = b.x[..., 0], b.x[..., 1], b.lengths
    cols = torch.arange(n)
    assert ((L >= T) & (L <= T + T // 10)).all()
    assert set(torch.unique(L).tolist()) == set(range(T, T + T // 10 + 1))
    marked = m == 1
    assert (marked.sum(0) == 2).all()
    pos = torch.nonzero(marked.t())[:, 1].view(n, 2).t()              # (2, B) marked positions, ascending
    assert (pos[0] < 10).all() and (pos[1] < T // 2 - 1).all()
    assert ((m[0] == -1) | marked[0]).all() and (m[L - 1, cols] == -1).all()
    x1, x2 = v[pos[0], cols], v[pos[1], cols]
    target = b.target[L - 1, cols, 0]
    expect = 0.5 + (x1 + x2) / 4 if name == "adding" else x1 * x2
    assert torch.allclose(target, expect)
    lo = -1.0 if name == "adding" else 0.0
    vals = v[1:T][~marked[1:T]]
    assert vals.min() >= lo and vals.max() <= 1
    assert abs(vals.mean().item() - (lo + 1) / 2) < 0.01 and abs(vals.var().item() - (1 - lo) ** 2 / 12) < 0.01
    first = marked[0]
    assert first.any() and (v[0, first] == (0.0 if name == "adding" else 1.0)).all()
    assert b.mask.sum() == n and b.mask[L - 1, cols].all()


def test_modern_adding_two_markers_anywhere_and_the_predict_one_baseline():
    T, n = 80, 8000
    b = make_task("adding-modern", T=T).sample(n, G())
    m = b.x[..., 1]
    assert (m.sum(0) == 2).all()
    pos = torch.nonzero(m.t() == 1)[:, 1].float()
    assert abs(pos.mean().item() - (T - 1) / 2) < 1.0                # uniform over the whole sequence
    target = b.target[-1, :, 0]
    assert torch.allclose(target, (b.x[..., 0] * m).sum(0))
    assert abs(((target - 1) ** 2).mean().item() - 1 / 6) < 0.01


@pytest.mark.parametrize("name,k", [("6a", 2), ("6b", 3)])
def test_temporal_order_positions_and_classes(name, k):
    task, n = make_task(name), 4000
    b = task.sample(n, G())
    ids, L, cols = b.x.argmax(-1), b.lengths, torch.arange(n)
    assert ((L >= 100) & (L <= 110)).all()
    assert (ids[0] == 0).all() and (ids[L - 1, cols] == 1).all()
    xy = ids >= 6                                                     # X or Y
    assert (xy.sum(0) == k).all()
    classes = b.target[L - 1, cols].argmax(-1)
    for col in range(50):
        where = torch.nonzero(xy[:, col])[:, 0]
        for (lo, hi), t in zip(task.positions, where.tolist()):
            assert lo <= t + 1 <= hi
        bits = (ids[where, col] - 6).tolist()
        assert int(classes[col]) == int("".join(map(str, bits)), 2)
        assert "".join(ORDER_SYMBOLS[i] for i in ids[1:L[col] - 1, col].tolist() if i < 6).strip("abcd") == ""
    freq = torch.bincount(classes, minlength=2 ** k).float() / n
    assert (freq - 1 / 2 ** k).abs().max() < 0.03
    assert (b.target.sum(-1)[L - 1, cols] == 1).all()


def test_copy_memory_layout_and_baseline():
    T = 50
    task = make_task("copy", T=T)
    b = task.sample(500, G())
    ids = b.x.argmax(-1)
    assert ids.shape[0] == T + 20
    assert ((ids[:10] >= 1) & (ids[:10] <= 8)).all() and (ids[10:T + 9] == 0).all() and (ids[T + 9:] == 9).all()
    assert (b.target[: T + 10] == 0).all() and torch.equal(b.target[T + 10:], ids[:10])
    assert math.isclose(task.baseline_loss, 10 * math.log(8) / (T + 20))


def test_tasks_reject_parameters_they_do_not_take_and_bad_values():
    with pytest.raises(ValueError, match="task 6a takes no T"):
        make_task("6a", T=10)
    with pytest.raises(ValueError, match="adding: T must be >= 6, got 2"):
        make_task("adding", T=2)
    with pytest.raises(ValueError, match="task must be one of"):
        make_task("parity")
