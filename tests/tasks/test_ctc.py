"""The CTC job: decoders against brute force and torch's CTC loss, the digit lines, training, eval, bad input."""

from __future__ import annotations

import itertools
import math
import sys

import numpy as np
import pytest
import torch

from lstmkit.cli import main
from lstmkit.tasks.ctc import (CTCConfig, CTCModel, DigitPools, LineSpec, beam_search, cer, ctc_loss,
                               edit_distance, greedy_decode, load_lines, make_lines, save_lines)
from lstmkit.tasks.ctc.lines import need_sklearn


def collapse(path, blank=0):
    out, prev = [], blank
    for s in path:
        if s != blank and s != prev:
            out.append(s)
        prev = s
    return tuple(out)


def brute_force(log_probs):
    """{label string: probability}, summing every alignment of every length-T path."""
    T, C = log_probs.shape
    probs = np.exp(log_probs)
    total: dict = {}
    for path in itertools.product(range(C), repeat=T):
        p = float(np.prod([probs[t, s] for t, s in enumerate(path)]))
        total[collapse(path)] = total.get(collapse(path), 0.0) + p
    return total


@pytest.mark.parametrize("seed,T,C", [(0, 4, 3), (1, 5, 3), (2, 3, 4), (3, 5, 2)])
def test_beam_search_full_width_equals_brute_force(seed, T, C):
    lp = torch.randn(T, C, generator=torch.Generator().manual_seed(seed)).mul(2).log_softmax(-1).double().numpy()
    exact = brute_force(lp)
    found = {tuple(k): math.exp(v) for k, v in beam_search(lp, beam=10_000)}
    assert set(found) == {k for k, p in exact.items() if p > 0}
    for k, p in exact.items():
        assert found[k] == pytest.approx(p, rel=1e-9, abs=1e-15)
    best = max(exact, key=exact.get)
    assert tuple(beam_search(lp, beam=10_000)[0][0]) == best
    assert math.fsum(found.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(3))
def test_beam_scores_match_torch_ctc_loss(seed):
    lp = torch.randn(6, 4, generator=torch.Generator().manual_seed(seed)).log_softmax(-1).double()
    for labels, score in beam_search(lp.numpy(), beam=10_000)[:5]:
        if not labels:
            continue
        nll = torch.nn.functional.ctc_loss(lp.unsqueeze(1), torch.tensor([labels]), torch.tensor([6]),
                                           torch.tensor([len(labels)]), reduction="sum")
        assert -nll.item() == pytest.approx(score, rel=1e-9)


def test_beam_finds_the_string_greedy_misses():
    lp = np.log(np.array([[0.6, 0.4], [0.6, 0.4]]))     # best path is blank-blank, but "a" has 0.64
    assert greedy_decode(lp) == []
    labels, score = beam_search(lp, beam=2)[0]
    assert labels == [1] and math.exp(score) == pytest.approx(0.64)


def test_greedy_merges_repeats_but_not_across_blanks():
    path = [0, 3, 3, 0, 3, 1, 1, 2, 0, 0]
    assert greedy_decode(np.log(np.eye(4)[path] * 0.96 + 0.01)) == [3, 3, 1, 2]


def test_edit_distance_and_cer():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "") == 0
    assert cer(["12", "345"], ["12", "35"]) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="one prediction per reference"):
        cer(["1"], [])


def test_pools_are_disjoint_and_lines_deterministic():
    pools = DigitPools.load()
    train = {tuple(x.flatten().tolist()) for x in pools.images["train"]}
    assert not any(tuple(x.flatten().tolist()) in train for x in pools.images["test"][:100])
    a = make_lines(pools.images["test"], pools.labels["test"], 5, LineSpec(), torch.Generator().manual_seed(3))
    b = make_lines(pools.images["test"], pools.labels["test"], 5, LineSpec(), torch.Generator().manual_seed(3))
    assert torch.equal(a.x, b.x) and a.strings() == b.strings()
    assert all(3 <= len(s) <= 6 for s in a.strings())
    assert a.lengths.max() == a.x.shape[0] and (a.x >= 0).all() and (a.x <= 1).all()
    for b_, n in enumerate(a.lengths.tolist()):
        assert a.x[n:, b_].abs().sum() == 0                       # zero padding past each line's end


def test_lines_roundtrip_and_bad_files(tmp_path):
    pools = DigitPools.load()
    lines = make_lines(pools.images["val"], pools.labels["val"], 4, LineSpec(max_gap=1), torch.Generator())
    save_lines(lines, tmp_path / "l.npz")
    back = load_lines(tmp_path / "l.npz")
    assert torch.equal(back.x, lines.x) and back.strings() == lines.strings()
    np.savez(tmp_path / "bad.npz", x=np.zeros((2, 5, 7)), lengths=np.array([5, 5]), targets=np.zeros((2, 1)),
             target_lengths=np.array([1, 1]))
    with pytest.raises(ValueError, match=r"x must be \(lines, steps, 8\), got shape \(2, 5, 7\)"):
        load_lines(tmp_path / "bad.npz")
    np.savez(tmp_path / "partial.npz", x=np.zeros((2, 5, 8)))
    with pytest.raises(ValueError, match="missing lengths, targets, target_lengths"):
        load_lines(tmp_path / "partial.npz")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_lines(tmp_path / "absent.npz")


def test_ctc_model_learns_a_fixed_batch():
    torch.manual_seed(0)
    pools = DigitPools.load()
    lines = make_lines(pools.images["train"], pools.labels["train"], 8, LineSpec(max_digits=3),
                       torch.Generator().manual_seed(0))
    model = CTCModel(8, 10, CTCConfig(hidden=24, layers=1, dropout=0.0, backend="reference"))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(80):
        loss = ctc_loss(model(lines.x, lines.lengths), lines)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.3 * first, (first, loss.item())


def test_train_eval_and_unseen_label(tmp_path, capsys):
    common = ["--hidden", "8", "--layers", "1", "--batch-size", "4", "--val-lines", "6", "--backend", "reference"]
    assert main(["train", "ctc", "--out", str(tmp_path / "run"), "--max-steps", "2", "--test-lines", "5",
                 "--beam", "2", *common]) == 0
    assert (tmp_path / "run" / "test.json").is_file()
    assert main(["ctc-lines", "--out", str(tmp_path / "t.npz"), "--lines", "5"]) == 0
    assert main(["eval", str(tmp_path / "run"), "--data", str(tmp_path / "t.npz"), "--json"]) == 0
    assert '"cer_beam"' in capsys.readouterr().out
    lines = load_lines(tmp_path / "t.npz")
    lines.targets[0, 0] = 10
    save_lines(lines, tmp_path / "u.npz")
    assert main(["eval", str(tmp_path / "run"), "--data", str(tmp_path / "u.npz")]) == 2
    assert "label 10 was never seen in training" in capsys.readouterr().err


def test_bad_settings_leave_no_run_folder(tmp_path, capsys):
    assert main(["train", "ctc", "--out", str(tmp_path / "run"), "--min-digits", "5", "--max-digits", "3"]) == 2
    assert "min_digits <= max_digits" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_missing_sklearn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ImportError, match=r"pip install 'lstmkit\[ctc\]'"):
        need_sklearn()
