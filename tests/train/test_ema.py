"""WeightAverage: the average follows its formula, swaps in and out cleanly, and round-trips its state."""

from __future__ import annotations

import pytest
import torch

from lstmkit.train.ema import WeightAverage


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4), torch.nn.Linear(4, 2))


def test_average_follows_the_warmed_up_decay():
    model = _model()
    avg = WeightAverage(model, decay=0.8)
    expect = {k: v.clone() for k, v in model.state_dict().items()}
    for n in range(1, 8):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        avg.update(model)
        d = min(0.8, (1 + n) / (10 + n))
        for k, v in model.state_dict().items():
            expect[k] = d * expect[k] + (1 - d) * v
    got = avg.state_dict()["weights"]
    assert all(torch.allclose(got[k], expect[k], atol=1e-6) for k in expect)


def test_applied_swaps_the_average_in_and_restores_exactly_even_on_error():
    model = _model()
    avg = WeightAverage(model, decay=0.5)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    own = {k: v.clone() for k, v in model.state_dict().items()}
    avg.update(model)
    with avg.applied(model):
        inside = {k: v.clone() for k, v in model.state_dict().items()}
    assert all(torch.equal(inside[k], avg.state_dict()["weights"][k]) for k in inside)
    assert all(torch.equal(v, own[k]) for k, v in model.state_dict().items())
    with pytest.raises(RuntimeError, match="boom"):
        with avg.applied(model):
            raise RuntimeError("boom")
    assert all(torch.equal(v, own[k]) for k, v in model.state_dict().items())


def test_state_round_trip_and_mismatch():
    model = _model()
    a = WeightAverage(model, decay=0.9)
    with torch.no_grad():
        model[0].weight.add_(1.0)
    a.update(model)
    b = WeightAverage(_model(), decay=0.9)
    b.load_state_dict(a.state_dict())
    assert b.updates == 1 and all(torch.equal(x, y) for x, y in zip(a.shadow, b.shadow))
    other = WeightAverage(torch.nn.Linear(3, 4), decay=0.9)
    with pytest.raises(ValueError, match="expected the model's"):
        other.load_state_dict(a.state_dict())
    with pytest.raises(ValueError, match=r"decay must be in \(0, 1\), got 1"):
        WeightAverage(model, decay=1)
