"""lstmkit.kernels.dispatch (every routing decision, the Tuning record, autotune and its cache) and
lstmkit.explain (which path a call takes): the explanation names what actually runs."""

from __future__ import annotations

import json

import pytest
import torch

import lstmkit
from lstmkit.kernels import dispatch

from helpers import tuned, two_threads  # noqa: F401  (a fixture)


def test_crossover_finds_the_cut_that_serves_the_ladder_best():
    macs = [1, 4, 16, 64]
    assert dispatch.crossover(macs, [1, 1, 1, 1], [2, 2, 0.5, 0.5]) == 8          # sqrt(4 * 16)
    assert dispatch.crossover(macs, [1, 1, 1, 1], [0.5, 2, 0.5, 0.5]) == 8        # a lone early win: A kept
    assert dispatch.crossover(macs, [1, 1, 1, 1], [2, 2, 0.5, 1.01]) == 8         # a near-tie above: B kept
    assert dispatch.crossover(macs, [1, 1, 1, 1], [0.5] * 4) == 0                 # always
    assert dispatch.crossover(macs, [1, 1, 1, 1], [2] * 4) == dispatch.NEVER      # never
    assert dispatch.crossover(macs, [1, 1, 1, 1], [1, 1, 1, 0.99]) == dispatch.NEVER   # inside the margin


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A cache folder of its own, tiny ladders (the measurement takes well under a second), the tuning
    resolved afresh, and restored after."""
    monkeypatch.setenv("LSTMKIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(dispatch, "GEMM_LADDER", [(2, 8, 32), (4, 16, 64)])
    monkeypatch.setattr(dispatch, "PART_LADDER", [(16, 8, 32), (32, 16, 64)])
    monkeypatch.setattr(dispatch, "PROJECTION_LADDER", [8, 16])
    monkeypatch.setattr(dispatch, "LOOP_LADDER", [(2, 8), (3, 16)])
    monkeypatch.setattr(dispatch, "_TUNING", None)
    yield tmp_path
    dispatch.set_tuning(None)


def test_autotune_measures_caches_per_machine_and_is_loaded_next_time(cache_dir, monkeypatch):
    monkeypatch.setenv("LSTMKIT_TUNING", "autotune")
    with torch.inference_mode():                            # a first call may come from inference code
        t = dispatch.tuning()
    assert t.source.startswith("measured on " + dispatch.cpu_model())
    for name in dispatch.MEASURED:
        assert getattr(t, name) >= 0
    data = json.loads((cache_dir / "tuning.json").read_text())
    (key, entry), = data.items()
    assert dispatch.cpu_model() in key and torch.__version__ in key and f"{torch.get_num_threads()} threads" in key
    assert entry == t.as_dict()
    entry["fused_max_macs"] = 12345                         # what a later process finds there is what it uses
    (cache_dir / "tuning.json").write_text(json.dumps(data))
    monkeypatch.delenv("LSTMKIT_TUNING")
    dispatch.set_tuning(None)
    assert dispatch.tuning().fused_max_macs == 12345 and dispatch.tuning().source == t.source
    assert dispatch.loop(None, 1, 100, 123) == "fused" and dispatch.loop(None, 1, 100, 124) == "stepped"


def test_packed_projection_decisions(monkeypatch):
    """One thread, float32, from packed_projection_min_k inputs: the compiled packed GEMM; a part with
    threads to spread torch's GEMM over keeps torch's."""
    from helpers import tuned
    tuned(monkeypatch, packed_projection_min_k=512)
    assert dispatch.packed_projection(512, 1, torch.float32)
    assert not dispatch.packed_projection(511, 1, torch.float32)
    assert not dispatch.packed_projection(1024, 2, torch.float32)
    assert not dispatch.packed_projection(1024, 1, torch.float64)


def test_tuning_from_a_file_and_its_errors(tmp_path, monkeypatch):
    f = tmp_path / "t.json"
    f.write_text(json.dumps({"onednn_min_macs": 7, "split_min_rows": 3}))
    monkeypatch.setenv("LSTMKIT_TUNING", str(f))
    monkeypatch.setattr(dispatch, "_TUNING", None)
    t = dispatch.tuning()
    assert (t.onednn_min_macs, t.split_min_rows, t.source) == (7, 3, f"file {f}")
    assert t.window_bytes == dispatch.Tuning().window_bytes
    f.write_text(json.dumps({"fused_max_mac": 1}))
    dispatch.set_tuning(None)
    with pytest.raises(ValueError, match="unknown tuning fields \\['fused_max_mac'\\]"):
        dispatch.tuning()
    monkeypatch.setenv("LSTMKIT_TUNING", str(tmp_path / "missing.json"))
    with pytest.raises(ValueError, match="LSTMKIT_TUNING must be 'defaults', 'autotune' or a JSON file"):
        dispatch.tuning()
    monkeypatch.setenv("LSTMKIT_TUNING", "defaults")
    dispatch.set_tuning(None)
    assert dispatch.tuning().source == "defaults"


def test_backend_names_are_checked_when_the_layer_is_built():
    with pytest.raises(ValueError, match="backend must be 'auto' or one of \\[.*'cpu-fused'.*\\], got 'cpu-fast'"):
        lstmkit.LSTM(4, 8, backend="cpu-fast")
    assert {"reference", "cpu", "cpu-fused", "cpu-stepped", "cpu-bf16"} <= set(dispatch.available())


def _record_loops(monkeypatch) -> list:
    """Every loop decision the kernels take, as (rows, backward, route chosen)."""
    seen, real = [], dispatch.loop

    def loop(route, rows, k, n, backward=False, threads=None):
        out = real(route, rows, k, n, backward, threads)
        seen.append((rows, backward, out))
        return out
    monkeypatch.setattr(dispatch, "loop", loop)
    return seen


@pytest.mark.parametrize("fused_max, halves", [(0, False), (10 ** 9, False), (0, True)])
def test_explain_names_the_loops_that_run(fused_max, halves, monkeypatch, two_threads):
    """The explanation's loop for each pass is the one the kernel then takes (forced both ways by the
    threshold for a part with all the threads; a batch half side by side, on one thread, always fused),
    its thread split the one :func:`dispatch.sides` gives, and it runs nothing itself."""
    tuned(monkeypatch, fused_max_macs=fused_max, fused_max_macs_backward=fused_max,
          side_by_side_min_macs=0 if halves else 10 ** 12)
    layer = lstmkit.LSTM(6, 10)
    x = torch.randn(9, 12, 6)
    seen = _record_loops(monkeypatch)
    why = layer.explain(x)
    want = "fused" if fused_max or halves else "stepped"
    assert seen and all(r == want for _, _, r in seen)                            # decisions, no run
    seen.clear()
    (call,) = why.calls
    assert call["kernel"] == "cpu" and call["train"]
    assert call["passes"]["forward"]["loop"] == want and call["passes"]["backward"]["loop"] == want
    assert call["threads"].startswith("the batch in two halves") == halves
    if halves:
        assert "runs on one thread: the fused loop at every size" in call["passes"]["forward"]["why"]
    layer(x)[0].sum().backward()
    assert {(b, r) for _, b, r in seen} == {(False, want), (True, want)}
    text = str(why)
    assert "LSTM(6, 10)" in text and f"loop              {want}" in text and "thresholds: a test" in text


@pytest.mark.parametrize("part_cut", [0, dispatch.NEVER], ids=["onednn", "never"])
def test_a_one_thread_part_has_its_own_gemm_crossover(part_cut, monkeypatch, two_threads):
    """A GEMM whose weight is packed in the call, from a part run side by side on one thread, takes
    onednn_min_macs_part; a call run whole, a weight the cache keeps and an inference program's kept
    projection take onednn_min_macs. The explanation of a training call names what its halves run."""
    from lstmkit.kernels import concurrent
    from lstmkit.kernels.cpu import gemm as G
    from lstmkit.kernels.cpu.prepared import reusing
    tuned(monkeypatch, onednn_min_macs=0, onednn_min_macs_part=part_cut, side_by_side_min_macs=0)
    part = "onednn" if part_cut == 0 else "mkl"
    assert dispatch.gemm(100, 64, 32, torch.float32, True) == "onednn"              # a call run whole
    assert dispatch.gemm(100, 64, 32, torch.float32, True, part=1) == part
    assert dispatch.gemm(100, 64, 32, torch.float32, True, part=2) == "onednn"
    assert dispatch.part_share() is None
    assert concurrent.side_by_side(lambda _: dispatch.part_share()) == [1, 1]
    if not G.ONEDNN:
        return                                               # (MKL runs every GEMM then, and explain says so)
    w = torch.randn(64, 32)

    def routes(reuse=False, **kw):
        def task(_):
            with reusing(reuse):                             # (thread by thread, as the kernels set it)
                return G.Linear(w, 100, **kw).onednn
        return concurrent.side_by_side(task)
    assert routes() == [part == "onednn"] * 2
    assert routes(kept=True) == [True, True] and routes(reuse=True) == [True, True] and G.Linear(w, 100).onednn
    ran, real = [], dispatch.gemm

    def gemm(*args, **kw):
        ran.append(real(*args, **kw))
        return ran[-1]
    monkeypatch.setattr(dispatch, "gemm", gemm)
    layer, x = lstmkit.LSTM(6, 10), torch.randn(9, 12, 6)
    call, = layer.explain(x).calls
    assert call["threads"].startswith("the batch in two halves")
    name = "oneDNN" if part == "onednn" else "MKL (torch.mm)"
    for line in (call["passes"]["forward"]["input projection"], call["passes"]["backward"]["input gradient"]):
        assert line.startswith(name) and "onednn_min_macs_part" in line
    ran.clear()
    layer(x)[0].sum().backward()
    assert ran and set(ran) == {part}                       # what the halves ran: the input projection, dx
    with torch.no_grad():
        call, = layer.explain(x).calls                      # inference keeps its prepared weights
    assert "onednn_min_macs_part" not in call["passes"]["forward"]["input projection"]


def test_a_cached_entry_without_a_measured_field_is_measured_again(cache_dir, monkeypatch):
    """An entry an earlier version wrote (before a threshold was measured) is not used as it is."""
    from lstmkit.kernels.dispatch import machine_key, write_cache
    old = {k: v for k, v in dispatch.Tuning().replace(fused_max_macs=777, source="old").as_dict().items()
           if k != "onednn_min_macs_part"}
    write_cache({machine_key(): old})
    monkeypatch.delenv("LSTMKIT_TUNING", raising=False)               # (the tests' own: defaults)
    assert dispatch.tuning().source.startswith("measured on " + dispatch.cpu_model())
    assert set(dispatch.MEASURED) <= set(dispatch.read_cache()[machine_key()])
    old["onednn_min_macs_part"] = 5                                   # a whole entry is used as it is
    write_cache({machine_key(): old})
    dispatch.set_tuning(None)
    assert (dispatch.tuning().source, dispatch.tuning().fused_max_macs) == ("old", 777)


def test_explain_inference_windows_with_lengths_switch_loops(monkeypatch):
    """Inference with lengths: each window runs the loop its running rows call for (here fused from 4
    rows down), and the explanation lists both, in the order they run."""
    tuned(monkeypatch, fused_max_macs=4 * 10 * 40, window_bytes=1, window_min_rows=3 * 8,
          side_by_side_min_macs=10 ** 12)
    layer = lstmkit.LSTM(6, 10)
    x = torch.randn(12, 8, 6)
    lengths = torch.tensor([12, 12, 3, 3, 3, 3, 2, 1])
    with torch.no_grad():
        why = layer.explain(x, lengths=lengths)
        fwd = why.calls[0]["passes"]["forward"]
        assert fwd["loop"].startswith("stepped (steps 0-2, 8-8 rows) then fused (steps 3-11")
        assert "4 window(s) of 3 steps" in fwd["windows"]
        seen = _record_loops(monkeypatch)
        layer(x, lengths=lengths)
    assert [r for _, _, r in seen] == ["stepped", "fused", "fused", "fused"]


def test_explain_reference_and_module_function():
    why = lstmkit.explain(lstmkit.GRU(3, 5, num_layers=2, backend="reference"), torch.randn(4, 2, 3))
    assert [c["kernel"] for c in why.calls] == ["reference", "reference"]
    assert "backend='reference' asked for" in str(why)
    half = lstmkit.explain(lstmkit.RNN(3, 5).half(), torch.randn(4, 2, 3).half())
    assert half.calls[0]["kernel"] == "reference" and "supports float32 and float64" in half.calls[0]["why"]
