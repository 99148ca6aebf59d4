"""``lstmkit inspect RUN_DIR``: a charlm run end to end, and the adapter protocol through a fake task package
of this test's own (``lstmkit.tasks.<task>.inspect_adapter``, found from the run's config.json)."""

from __future__ import annotations

import json
import re
import sys
import types

import pytest
import torch

import lstmkit
from lstmkit.cli import main
from lstmkit.inspect import recording
from lstmkit.tasks.charlm import CharLMConfig, inspect_adapter, train

FAKE = "fake_inspect_task"


@pytest.fixture(scope="module")
def charlm_run(tmp_path_factory):
    cfg = CharLMConfig(max_steps=2, hidden=8, embed=4, layers=2, batch_size=2, seq_len=8, eval_every=2,
                       eval_chars=200, sample_chars=0, final_sample=0)
    return train(cfg, tmp_path_factory.mktemp("charlm") / "run", stream=open("/dev/null", "w")).run


def test_charlm_run_to_page_and_heatmaps(charlm_run, tmp_path, capsys):
    page = tmp_path / "out" / "p.html"
    code = main(["inspect", str(charlm_run), "--text", 'if (a):\\n    b = "c"', "--escapes", "--out", str(page)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.splitlines()[0] == "19 tokens, 2 layer-direction(s): rnn layer 0 forward, rnn layer 1 forward"
    html = page.read_text(encoding="utf-8")
    data = json.loads(re.search(r'type="application/json">(.*?)</script>', html, re.S).group(1))
    assert "".join(data["tokens"]) == 'if (a):\n    b = "c"'
    pngs = sorted(p.name for p in page.parent.glob("*.png"))
    assert len(pngs) == 2 * 7 and "p-rnn-layer1-fwd-f.png" in pngs

    small = tmp_path / "small.html"
    assert main(["inspect", str(charlm_run), "--text", "ab", "--out", str(small), "--quantities", "c,f"]) == 0
    assert sorted(p.name for p in tmp_path.glob("small*.png")) == [
        f"small-rnn-layer{k}-fwd-{q}.png" for k in (0, 1) for q in ("c", "f", "saturation")]
    assert main(["inspect", str(charlm_run), "--text", "ab", "--quantities", "c,z"]) == 2
    assert "--quantities must be names among c,f,g,h,i,o for this run, got c,z" in capsys.readouterr().err


def test_charlm_adapter_follows_the_protocol(charlm_run):
    a = inspect_adapter(charlm_run, "ab\u2603")                           # a snowman the vocabulary lacks
    assert a["tokens"] == ["a", "b", "\u2603"] and a["layers"] == ["rnn"] and not a["model"].training
    with recording(a["model"]) as rec:
        a["run"]()
    assert rec.last("rnn")[(1, 0)]["h"].shape == (3, 1, 8)
    with pytest.raises(ValueError, match="--text must hold at least one character, got ''"):
        inspect_adapter(charlm_run, "")


def _fake_task(monkeypatch, adapter):
    mod = types.ModuleType(f"lstmkit.tasks.{FAKE}")
    if adapter is not None:
        mod.inspect_adapter = adapter
    monkeypatch.setitem(sys.modules, mod.__name__, mod)


def _fake_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"task": FAKE}))
    return run


class Tagger(torch.nn.Module):
    """A word model with a character encoder the page must not show."""

    def __init__(self):
        super().__init__()
        self.chars = lstmkit.GRU(2, 3)
        self.words = lstmkit.LSTM(4, 5, num_layers=2, bidirectional=True)


def _adapter(layers=("words",), tokens=None):
    def inspect_adapter(run_dir, text, checkpoint="auto"):
        words = text.split()
        if not words:
            raise ValueError("text must hold at least one word, got none")
        model = Tagger().eval()

        def run():
            model.chars(torch.randn(7, len(words), 2))
            return model.words(torch.randn(len(words), 1, 4))

        return {"model": model, "tokens": words if tokens is None else tokens, "run": run, "layers": list(layers)}

    return inspect_adapter


def test_protocol_with_a_task_of_our_own(monkeypatch, tmp_path, capsys):
    _fake_task(monkeypatch, _adapter())
    run = _fake_run(tmp_path)
    page = tmp_path / "page.html"
    assert main(["inspect", str(run), "--text", 'He said "go" (now)', "--out", str(page), "--no-png"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == ("4 tokens, 4 layer-direction(s): words layer 0 forward, "
                                                       "words layer 0 backward, words layer 1 forward, "
                                                       "words layer 1 backward")
    data = json.loads(re.search(r'type="application/json">(.*?)</script>', page.read_text(), re.S).group(1))
    assert data["tokens"] == ["He", "said", '"go"', "(now)"]
    assert data["words"] is True and not list(tmp_path.glob("*.png"))


@pytest.mark.parametrize("adapter,message", [
    (None, f"lstmkit.tasks.{FAKE}.inspect_adapter(run_dir, text, checkpoint) -> dict; task '{FAKE}' does not"),
    (_adapter(layers=("chars", "head")), "'layers' must name lstmkit layers of the model"),
    (_adapter(tokens=["only", "two"]), "layer 'words' ran over 4 steps, but there are 2 tokens"),
    (lambda run_dir, text, checkpoint="auto": {"model": Tagger()}, "must return a dict with keys"),
])
def test_protocol_errors_leave_nothing_behind(monkeypatch, tmp_path, capsys, adapter, message):
    _fake_task(monkeypatch, adapter)
    run = _fake_run(tmp_path)
    page = tmp_path / "out" / "page.html"
    assert main(["inspect", str(run), "--text", "one two three four", "--out", str(page)]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists(), "nothing written"


def test_bad_input(monkeypatch, tmp_path, capsys):
    _fake_task(monkeypatch, _adapter())
    run = _fake_run(tmp_path)
    assert main(["inspect", str(run), "--text", "   ", "--out", str(tmp_path / "p.html")]) == 2
    assert "text must hold at least one word, got none" in capsys.readouterr().err
    assert main(["inspect", str(run), "--out", str(tmp_path / "p.html")]) == 2
    assert "expected exactly one of --text TEXT or --text-file FILE" in capsys.readouterr().err
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok \xff no")
    assert main(["inspect", str(run), "--text-file", str(bad)]) == 2
    assert "byte 0xff at offset 3 is not UTF-8" in capsys.readouterr().err
    (run / "config.json").write_text(json.dumps({"task": "no_such_task"}))
    assert main(["inspect", str(run), "--text", "a"]) == 2
    assert "has no package lstmkit.tasks.no_such_task" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.html"))
