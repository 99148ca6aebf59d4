"""``lstmkit tune``: shows the thresholds in force, measures them again, forgets this machine's entry."""

from __future__ import annotations

import json

from lstmkit.cli import main
from lstmkit.kernels import dispatch


def test_tune_shows_measures_and_forgets(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LSTMKIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(dispatch, "GEMM_LADDER", [(2, 8, 32)])
    monkeypatch.setattr(dispatch, "PART_LADDER", [(16, 8, 32)])
    monkeypatch.setattr(dispatch, "PROJECTION_LADDER", [8])
    monkeypatch.setattr(dispatch, "LOOP_LADDER", [(2, 8)])
    monkeypatch.setattr(dispatch, "_TUNING", None)
    try:
        assert main(["tune"]) in (0, None)
        out = capsys.readouterr().out
        assert "tuning (defaults)" in out and dispatch.machine_key() in out       # the tests' LSTMKIT_TUNING
        assert main(["tune", "--measure"]) in (0, None)
        assert "measured on" in capsys.readouterr().out
        assert dispatch.machine_key() in json.loads((tmp_path / "tuning.json").read_text())
        assert main(["tune", "--forget"]) in (0, None)
        assert capsys.readouterr().out.startswith("forgot ")
        assert json.loads((tmp_path / "tuning.json").read_text()) == {}
        assert main(["tune", "--forget"]) in (0, None)
        assert capsys.readouterr().out.startswith("no entry for ")
    finally:
        dispatch.set_tuning(None)
