"""The paper's criteria accept a perfect predictor and reject a constant one, on every task."""

from __future__ import annotations

import pytest
import torch

from lstmkit.tasks.longlag import make_task
from lstmkit.tasks.longlag.criteria import HeldOut, RecentWindow, Successive
from lstmkit.tasks.longlag.reber import ContinualReber, _symbol_score

TASKS = [("reber", {}), ("2a", {"p": 20}), ("2b", {"p": 20}), ("2c", {"T": 30, "p": 10}), ("3a", {"T": 30}),
         ("adding", {"T": 20}), ("multiplication", {"T": 20}), ("6a", {}), ("6b", {}),
         ("adding-modern", {"T": 20}), ("copy", {"T": 10})]


def perfect(task, b):
    """Raw outputs that reproduce the targets exactly (after the task's output non-linearity)."""
    if task.kind == "softmax":
        return torch.nn.functional.one_hot(b.target, task.output_size).float() * 20
    if task.kind == "sigmoid":
        return torch.logit(b.target.clamp(1e-6, 1 - 1e-6))
    return b.target.clone()


def constant(task, b):
    """The best constant guess: every output at its mean target (chance level for classes)."""
    shape = b.target.shape if task.kind != "softmax" else b.target.shape + (task.output_size,)
    if task.kind == "linear":
        return torch.full(shape, float(b.target[b.mask].mean()))
    return torch.zeros(shape)                                         # sigmoid 0.5 / uniform softmax


def run_criterion(task, predictor, sequences, batch=250):
    g = torch.Generator().manual_seed(0)
    crit = task.criterion(lambda b: predictor(task, b))
    seen = 0
    while seen < sequences:
        b = task.sample(batch, g)
        seen += b.sequences
        crit.update(*task.score(predictor(task, b), b), seen)
        if crit.met():
            return True, seen
    return False, seen


@pytest.mark.parametrize("name,params", TASKS, ids=[t for t, _ in TASKS])
def test_criterion_accepts_a_perfect_predictor(name, params):
    task = make_task(name, **params)
    ok, seen = run_criterion(task, perfect, 12_000)
    assert ok
    need = {Successive: 10_000, RecentWindow: 2000}.get(type(task.criterion(lambda b: None)), 1)
    assert seen >= need                                               # not before the criterion's window
    test = task.test(lambda b: perfect(task, b), torch.Generator().manual_seed(1))
    wrong = [v for k, v in test.items() if k.startswith("wrong")]
    assert wrong and all(w == 0 for w in wrong)


@pytest.mark.parametrize("name,params", TASKS, ids=[t for t, _ in TASKS])
def test_criterion_rejects_a_constant_predictor(name, params):
    task = make_task(name, **params)
    ok, _ = run_criterion(task, constant, 12_000)
    assert not ok
    test = task.test(lambda b: constant(task, b), torch.Generator().manual_seed(1))
    assert sum(v for k, v in test.items() if k.startswith("wrong")) > 0


def test_continual_reber_scores_a_stream_by_its_legal_next_symbols():
    task = ContinualReber(chunk=300)
    b = task.sample(4, torch.Generator().manual_seed(0))
    assert _symbol_score(b.legal.float() * 5, b).all()
    assert not _symbol_score(torch.zeros_like(b.target).index_fill_(-1, torch.tensor([3]), 1.0), b).any()


def test_successive_restarts_on_an_error_and_recent_window_needs_a_full_window():
    s = Successive(3)
    s.update(torch.tensor([True, True, False, True]), torch.zeros(4))
    assert s.run == 1 and not s.met()
    w = RecentWindow(4, mean_below=0.1)
    w.update(torch.tensor([True] * 3), torch.zeros(3))
    assert not w.met()
    w.update(torch.tensor([True]), torch.zeros(1))
    assert w.met()
    w.update(torch.tensor([True]), torch.ones(1))
    assert not w.met()                                                # mean error 0.25


def test_held_out_checks_on_schedule_and_records_when_each_flag_first_held():
    calls = []

    def check():
        calls.append(1)
        return len(calls) >= 2, {"ST1": True, "ST2": len(calls) >= 2}
    h = HeldOut(check, every=100)
    for seen in (50, 100, 150, 200):
        h.update(torch.ones(50, dtype=torch.bool), torch.zeros(50), seen)
    assert len(calls) == 2 and h.met() and h.first == {"ST1": 100, "ST2": 200}
