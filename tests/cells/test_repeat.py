"""A cell's kept compiled step (lstmkit.cells.repeat): the next step like it skips the general path and gives
the same result; a weight write shows at once (the kept views read the parameters' memory); new memory, a
new Parameter, a dtype move, other argument shapes, a gradient or a parametrization send the step back to
the general path; bad input keeps torch.nn's errors."""

from __future__ import annotations

import copy
import itertools

import pytest
import torch
import torch.nn.utils.parametrize as parametrize

import lstmkit
from lstmkit.cells import base as cell_base
from lstmkit.cells.repeat import CellRepeat
from lstmkit.errors import DTypeError, ShapeError

from helpers import count_results

CELLS = [(lstmkit.LSTMCell, torch.nn.LSTMCell), (lstmkit.GRUCell, torch.nn.GRUCell), (lstmkit.RNNCell, torch.nn.RNNCell)]


@pytest.fixture
def hits(monkeypatch):
    """How many steps the kept CellRepeat ran."""
    return count_results(monkeypatch, CellRepeat, "__call__")


def _states(s):
    return s if isinstance(s, tuple) else (s,)


def _call(cell, x, hx=None):
    with torch.no_grad():
        return _states(cell(x, hx))


def _general(cell, x, hx=None):
    cell_base._REPEATS.pop(cell, None)
    return _call(cell, x, hx)


def _same(a, b):
    assert len(a) == len(b) and all(torch.equal(p, q) for p, q in zip(a, b))


@pytest.mark.parametrize("ours, theirs", CELLS, ids=[c.__name__ for c, _ in CELLS])
def test_a_repeated_step_gives_what_the_general_path_gives(ours, theirs, hits):
    torch.manual_seed(0)
    ref = theirs(5, 7)
    cell = ours(5, 7)
    cell.load_state_dict(ref.state_dict())
    for batch, given, dtype in itertools.product((None, 1, 4), (False, True), (torch.float32, torch.float64)):
        cell.to(dtype)
        ref.to(dtype)
        lead = () if batch is None else (batch,)
        x = torch.randn(*lead, 5, dtype=dtype)
        hx = None
        if given:
            h = torch.randn(*lead, 7, dtype=dtype)
            hx = (h, torch.randn_like(h)) if ours is lstmkit.LSTMCell else h
        first = _general(cell, x, hx)
        n = len(hits)
        for _ in range(2):
            _same(_call(cell, x, hx), first)
        assert len(hits) == n + 2
        with torch.no_grad():
            want = _states(ref(x, hx))
        tol = 1e-12 if dtype == torch.float64 else 1e-5
        for a, b in zip(first, want):
            torch.testing.assert_close(a, b, atol=tol, rtol=0)
        y = x * 0.5
        _same(_call(cell, y, hx), _general(cell, y, hx))


def test_outputs_are_fresh_and_the_kept_zero_state_untouched(hits):
    cell = lstmkit.LSTMCell(4, 6)
    x = torch.randn(2, 4)
    h1, c1 = _call(cell, x)
    h2, c2 = _call(cell, x)
    assert hits == [1] and h1.data_ptr() != h2.data_ptr() and c1.data_ptr() != c2.data_ptr()
    h2.fill_(3.0)
    c2.fill_(3.0)
    _same(_call(cell, x), (h1, c1))
    assert all(torch.equal(z, torch.zeros_like(z)) for z in cell_base._REPEATS[cell].zeros)


@pytest.mark.parametrize("change", ["in_place", "data_add", "numpy", "data_new_memory", "new_parameter", "double"])
def test_a_weight_change_shows_at_once(change, hits):
    torch.manual_seed(1)
    ref = torch.nn.GRUCell(5, 8)
    cell = lstmkit.GRUCell(5, 8)
    cell.load_state_dict(ref.state_dict())
    x, h = torch.randn(3, 5), torch.randn(3, 8)
    _call(cell, x, h)
    _call(cell, x, h)
    assert hits == [1]
    if change == "in_place":
        with torch.no_grad():
            cell.weight_hh.mul_(1.5)
            ref.weight_hh.mul_(1.5)
    elif change == "data_add":
        cell.weight_hh.data.add_(0.25)
        ref.weight_hh.data.add_(0.25)
    elif change == "numpy":
        cell.weight_hh.detach().numpy()[0, 0] += 1.0
        ref.weight_hh.detach().numpy()[0, 0] += 1.0
    elif change == "data_new_memory":
        fresh = torch.randn_like(cell.weight_hh)
        cell.weight_hh.data, ref.weight_hh.data = fresh, fresh.clone()
    elif change == "new_parameter":
        fresh = torch.randn_like(cell.weight_hh)
        cell.weight_hh = torch.nn.Parameter(fresh)
        ref.weight_hh = torch.nn.Parameter(fresh.clone())
    else:
        cell.double()
        ref.double()
        x, h = x.double(), h.double()
    got = _call(cell, x, h)
    with torch.no_grad():
        want = ref(x, h)
    torch.testing.assert_close(got[0], want, atol=1e-12 if x.dtype == torch.float64 else 1e-5, rtol=0)
    # a write in place reads through the kept views; anything that moves the weight needs the general path
    assert len(hits) == (2 if change in ("in_place", "data_add", "numpy") else 1)


def test_bad_input_still_gets_the_general_checks(hits):
    cell = lstmkit.LSTMCell(4, 6)
    x = torch.randn(2, 4)
    _call(cell, x)
    with pytest.raises(DTypeError):
        _call(cell, x.double())
    with pytest.raises(ShapeError):
        _call(cell, torch.randn(2, 5))
    with pytest.raises(ShapeError):
        _call(cell, x, (torch.zeros(3, 6), torch.zeros(3, 6)))
    with pytest.raises(TypeError):
        _call(cell, x, torch.zeros(2, 6))                       # an LSTM cell needs (h, c)
    assert hits == []


def test_gradients_parametrizations_and_copies(hits):
    torch.manual_seed(2)
    cell = lstmkit.RNNCell(4, 6)
    x = torch.randn(2, 4)
    want = _call(cell, x)
    _call(cell, x)
    assert hits == [1]
    h = cell(x)                                                 # grad enabled: autograd's step
    assert h.requires_grad
    h.sum().backward()
    assert cell.weight_hh.grad is not None
    twin = copy.deepcopy(cell)
    assert twin not in cell_base._REPEATS
    _same(_call(twin, x), want)

    class Double(torch.nn.Module):
        def forward(self, w):
            return 2 * w
    parametrize.register_parametrization(cell, "weight_ih", Double())
    n = len(hits)
    got = _call(cell, x)
    got_again = _call(cell, x)
    assert len(hits) == n and cell not in cell_base._REPEATS     # a parametrized weight: never kept
    _same(got, got_again)
    assert not torch.equal(got[0], want[0])
