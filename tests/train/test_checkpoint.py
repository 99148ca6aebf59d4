"""Checkpoints: exact round trip of nested state, atomic saves, and clear errors for damaged files."""

from __future__ import annotations

import json

import pytest
import torch

from lstmkit.train import checkpoint as ck
from lstmkit.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


def _state():
    model = torch.nn.LSTM(3, 4)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(5, 2, 3))[0].sum().backward()
    opt.step()
    return {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": 7, "nested": {"t": (1, 2.5, "x")},
            "none": None, "big": torch.arange(10, dtype=torch.int64), "flag": True}


def test_round_trip_is_exact_with_int_keys_tuples_and_dtypes(tmp_path):
    state = _state()
    save_checkpoint(tmp_path, "last", state, step=7)
    got = load_checkpoint(tmp_path, "last")
    assert got["step"] == 7
    back = got["state"]
    for k, v in state["model"].items():
        assert torch.equal(back["model"][k], v)
    assert set(back["optimizer"]["state"]) == set(state["optimizer"]["state"])          # int keys kept
    for pid, s in state["optimizer"]["state"].items():
        for k, v in s.items():
            assert torch.equal(back["optimizer"]["state"][pid][k], v)
    assert back["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)                 # tuple kept
    assert back["nested"] == {"t": (1, 2.5, "x")} and back["none"] is None and back["flag"] is True
    assert back["big"].dtype == torch.int64
    opt = torch.optim.AdamW(torch.nn.LSTM(3, 4).parameters(), lr=1e-3)
    opt.load_state_dict(back["optimizer"])                                             # loads into torch


def test_json_holds_no_tensor_data_and_no_pickle(tmp_path):
    save_checkpoint(tmp_path, "last", _state(), step=1)
    meta = json.loads((tmp_path / "last.json").read_text())
    assert meta["format"] == "lstmkit-checkpoint" and meta["tensors_file"].endswith(".safetensors")
    assert meta["state"]["big"] == {"__tensor__": "big"}
    assert not list(tmp_path.glob("*.pt")) and not list(tmp_path.glob("*.pkl"))


def test_new_save_replaces_old_files(tmp_path):
    save_checkpoint(tmp_path, "last", {"w": torch.zeros(2)}, step=1)
    save_checkpoint(tmp_path, "last", {"w": torch.ones(2)}, step=2)
    save_checkpoint(tmp_path, "last", {"w": torch.full((2,), 3.0)}, step=2)          # same step twice
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last-000000002b.safetensors", "last.json"]
    assert load_checkpoint(tmp_path, "last")["state"]["w"].tolist() == [3.0, 3.0]


@pytest.mark.parametrize("crash_in", ["tensors", "json"])
def test_crash_during_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch, crash_in):
    save_checkpoint(tmp_path, "last", {"w": torch.zeros(3)}, step=1)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def boom(*a, **k):
        raise OSError("disk full (simulated)")

    if crash_in == "tensors":
        monkeypatch.setattr(ck, "save_file", boom)
    else:
        monkeypatch.setattr(ck.atomic, "write_json", boom)
    with pytest.raises(OSError, match="simulated"):
        save_checkpoint(tmp_path, "last", {"w": torch.ones(3)}, step=2)
    monkeypatch.undo()
    assert load_checkpoint(tmp_path, "last")["state"]["w"].tolist() == [0.0, 0.0, 0.0]
    assert (tmp_path / "last.json").read_bytes() == before["last.json"]
    assert not list(tmp_path.glob("*.tmp"))


def test_truncated_tensor_file_is_named(tmp_path):
    save_checkpoint(tmp_path, "last", {"w": torch.randn(100)}, step=5)
    tfile = next(tmp_path.glob("last-*.safetensors"))
    data = tfile.read_bytes()
    tfile.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=rf"{tfile.name} is truncated or corrupt: expected {len(data)} bytes, "
                                              rf"got {len(data) // 2}"):
        load_checkpoint(tmp_path, "last")


def test_flipped_byte_fails_the_hash(tmp_path):
    save_checkpoint(tmp_path, "last", {"w": torch.randn(100)}, step=5)
    tfile = next(tmp_path.glob("last-*.safetensors"))
    data = bytearray(tfile.read_bytes())
    data[-5] ^= 0xFF
    tfile.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="is corrupt: expected sha256"):
        load_checkpoint(tmp_path, "last")


def test_bad_json_and_foreign_json_and_missing(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint 'last'"):
        load_checkpoint(tmp_path, "last")
    (tmp_path / "last.json").write_text('{"format": "lstmkit-checkp')
    with pytest.raises(CheckpointError, match="is corrupt: expected JSON"):
        load_checkpoint(tmp_path, "last")
    (tmp_path / "last.json").write_text('{"hello": 1}')
    with pytest.raises(CheckpointError, match="expected format 'lstmkit-checkpoint', got None"):
        load_checkpoint(tmp_path, "last")


def test_unsupported_state_is_refused_with_its_path(tmp_path):
    with pytest.raises(TypeError, match=r"state at 'a/b' must be a tensor, dict, .* got set"):
        save_checkpoint(tmp_path, "last", {"a": {"b": {1, 2}}}, step=0)
    assert not (tmp_path / "last.json").exists()
