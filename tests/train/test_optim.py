"""The engine's AdamW keeps its moments clear of subnormal floats (issue 22: rows of an embedding whose
words stop appearing decayed through the subnormal range, where x86 arithmetic is many times slower)."""

from __future__ import annotations

import torch

from lstmkit.train import TrainConfig, make_optimizer
from lstmkit.train.optim import TINY_MOMENT, flush_interval, flush_tiny_moments_


def subnormals(opt) -> int:
    tiny = torch.finfo(torch.float32).tiny
    return sum(int(((t != 0) & (t.abs() < tiny)).sum()) for s in opt.state.values()
               for k, t in s.items() if k.startswith("exp_avg"))


def quiet_rows_run(cfg, steps=260, quiet_after=20):
    """An embedding whose rows all get gradients, then only row 0 does (the others' words stop appearing)."""
    torch.manual_seed(0)
    emb = torch.nn.Embedding(500, 16)
    opt = make_optimizer(emb, cfg)
    seen = []
    for step in range(steps):
        ids = torch.arange(500) if step < quiet_after else torch.zeros(8, dtype=torch.long)
        loss = emb(ids).pow(2).sum() * 1e-2
        opt.zero_grad()
        loss.backward()
        opt.step()
        seen.append(subnormals(opt))
    return emb, opt, seen


def test_moments_of_rows_that_went_quiet_never_become_subnormal():
    # fast decays, so the quiet rows' moments reach the subnormal range within the run
    _, opt, seen = quiet_rows_run(TrainConfig(beta1=0.5, beta2=0.6, lr=1e-3, weight_decay=0.0))
    assert max(seen) == 0, f"subnormal moments at steps {[i for i, n in enumerate(seen) if n][:10]}"
    quiet = opt.state[next(iter(opt.state))]["exp_avg"][1:]
    assert quiet.abs().max() < TINY_MOMENT * 1e8             # they did decay (to zero by now)


def test_plain_adamw_does_go_subnormal_there():
    """The control: without the flush the same run holds subnormal moments (the bug this guards)."""
    emb = torch.nn.Embedding(500, 16)
    opt = torch.optim.AdamW(emb.parameters(), lr=1e-3, betas=(0.5, 0.6), weight_decay=0.0)
    worst = 0
    for step in range(260):
        ids = torch.arange(500) if step < 20 else torch.zeros(8, dtype=torch.long)
        opt.zero_grad()
        (emb(ids).pow(2).sum() * 1e-2).backward()
        opt.step()
        worst = max(worst, subnormals(opt))
    assert worst > 1000


def test_the_flush_does_not_change_training_beyond_float_rounding():
    cfg = TrainConfig(beta1=0.5, beta2=0.6, lr=1e-3, weight_decay=0.1)
    emb, _, _ = quiet_rows_run(cfg)
    torch.manual_seed(0)
    ref = torch.nn.Embedding(500, 16)
    opt = torch.optim.AdamW([{"params": list(ref.parameters()), "weight_decay": 0.1}], lr=1e-3, betas=(0.5, 0.6))
    for step in range(260):
        ids = torch.arange(500) if step < 20 else torch.zeros(8, dtype=torch.long)
        opt.zero_grad()
        (ref(ids).pow(2).sum() * 1e-2).backward()
        opt.step()
    torch.testing.assert_close(emb.weight, ref.weight, rtol=1e-6, atol=1e-9)


def test_flush_interval_leaves_no_room_to_decay_into_subnormals():
    tiny = torch.finfo(torch.float32).tiny
    for betas in [(0.9, 0.99), (0.9, 0.999), (0.5, 0.6), (0.0, 0.99), (0.99, 0.0)]:
        every = flush_interval(betas)
        fastest = min(b for b in betas if b > 0)
        assert TINY_MOMENT * fastest ** every > tiny, betas
    assert flush_interval((0.0, 0.0)) >= 1


def test_flush_counts_and_leaves_normal_values_and_gpu_alone():
    p = torch.nn.Parameter(torch.ones(4))
    opt = torch.optim.AdamW([p])
    p.grad = torch.ones(4)
    opt.step()
    st = opt.state[p]
    st["exp_avg"].copy_(torch.tensor([1e-40, -1e-31, 1e-29, 0.0]))
    st["exp_avg_sq"].copy_(torch.tensor([1e-20, 1e-44, 0.0, 1.0]))
    assert flush_tiny_moments_(opt) == 3
    assert st["exp_avg"].tolist() == [0.0, 0.0, torch.tensor(1e-29).item(), 0.0]
    assert st["exp_avg_sq"].tolist() == [torch.tensor(1e-20).item(), 0.0, 0.0, 1.0]
