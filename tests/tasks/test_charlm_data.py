"""charlm data: reading text (each bad input has a clear error), the vocabulary's unseen-character policy,
and the truncated-BPTT streams (k1 = k2 tiling, k2 > k1 overlapping windows, epochs, exact position)."""

from __future__ import annotations

import pytest
import torch

from lstmkit.cli import main
from lstmkit.tasks.charlm import CharLMConfig, CharLMTask, TextStreams, Vocab, default_corpus, read_text
from lstmkit.tasks.charlm.task import split_text


def test_default_corpus_is_python_documentation():
    text = default_corpus()
    assert len(text) > 100_000 and "The \"assert\" statement" in text and "    " in text


def test_missing_empty_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"text file {tmp_path}/nope.txt does not exist"):
        read_text(tmp_path / "nope.txt")
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(ValueError, match="empty.txt is empty; expected at least one character"):
        read_text(tmp_path / "empty.txt")
    with pytest.raises(IsADirectoryError, match="is a directory; expected a file"):
        read_text(tmp_path)


def test_non_utf8_names_the_byte_offset_and_the_options(tmp_path):
    p = tmp_path / "latin.txt"
    p.write_bytes("naïve text, ".encode() + b"d\xe9j\xe0 vu")
    with pytest.raises(ValueError, match=r"is not valid utf-8: byte 0xe9 at offset 14 .*--encoding latin-1, "
                                         r"or --errors replace"):
        read_text(p)
    assert read_text(p, errors="replace").endswith("d\ufffdj\ufffd vu")
    assert read_text(p, errors="ignore").endswith("dj vu")
    assert read_text(p, encoding="latin-1").endswith("déjà vu")
    with pytest.raises(ValueError, match="--encoding 'klingon' is not an encoding Python knows"):
        read_text(p, encoding="klingon")


def test_text_shorter_than_one_batch():
    cfg = CharLMConfig(batch_size=8, seq_len=50)
    with pytest.raises(ValueError, match=r"the training text has 180 characters; one batch needs at least 450 "
                                         r"\(--batch-size 8 x --bptt 50, plus offset room 49, plus 1\)"):
        CharLMTask(cfg, text="abcdefghij" * 20)
    with pytest.raises(ValueError, match="leaves 9 for training and 1 for validation, expected >= 2 each"):
        split_text("0123456789", 0.1)


def test_cli_bad_text_exits_2_with_message_and_leaves_no_run_folder(tmp_path, capsys):
    (tmp_path / "bad.txt").write_bytes(b"abc\xff")
    out = tmp_path / "run"
    for args, message in [(["--text", str(tmp_path / "none.txt")], "does not exist"),
                          (["--text", str(tmp_path)], "is a directory"),
                          (["--text", str(tmp_path / "bad.txt")], "byte 0xff at offset 3")]:
        assert main(["train", "charlm", "--out", str(out), *args]) == 2
        assert message in capsys.readouterr().err
        assert not out.exists()


def test_vocabulary_policy_for_unseen_characters():
    v = Vocab.from_text("abcab\n")
    assert v.chars[0] == "\ufffd" and len(v) == 5
    assert v.unknown("cat?!") == ["t", "?", "!"]
    assert v.encode("cat").tolist() == [4, 2, 0]                       # unseen -> <unk> (id 0)
    assert Vocab.from_json(v.to_json()).chars == v.chars
    task = CharLMTask(CharLMConfig(batch_size=2, seq_len=4), text="ab" * 50 + "abz")
    assert task.vocab.unknown("z") == ["z"] and task.val_ids.tolist().count(0) == 1   # z only in validation


def _stream_text(n=200):
    return torch.arange(n)


def test_streams_k1_equals_k2_tile_each_stream_with_targets_shifted_by_one():
    s = TextStreams(_stream_text(), batch=3, k1=5, k2=5, seed=0)
    xs, ys = [], []
    for i in range(4):
        x, y, new = s.next()
        assert new == (i == 0) and x.shape == (5, 3) and y.shape == (5, 3)
        xs.append(x)
        ys.append(y)
    x, y = torch.cat(xs), torch.cat(ys)                               # (20, 3)
    L = (200 - 1) // 3
    assert torch.equal(x, torch.arange(20).unsqueeze(1) + L * torch.arange(3))
    assert torch.equal(y, x + 1)


def test_streams_k2_greater_than_k1_overlap_and_score_the_last_k1():
    s = TextStreams(_stream_text(), batch=2, k1=4, k2=10, seed=0)
    x0, y0, _ = s.next()
    x1, y1, _ = s.next()
    assert x0.shape == (10, 2) and y0.shape == (4, 2)
    assert torch.equal(x1[:6], x0[4:])                                # windows advance by k1, overlap k2 - k1
    assert torch.equal(y0, x0[-4:] + 1) and torch.equal(y1, x1[-4:] + 1)


def test_streams_wrap_into_a_new_epoch_at_a_random_offset_and_resume_exactly():
    s = TextStreams(_stream_text(60), batch=2, k1=5, k2=5, seed=3)
    news = [s.next()[2] for _ in range(12)]
    assert news[0] and sum(news) >= 2 and s.epoch >= 1 and 0 <= s.offset < 5
    saved = s.state_dict()
    ahead = [s.next() for _ in range(8)]
    t = TextStreams(_stream_text(60), batch=2, k1=5, k2=5, seed=999)
    t.load_state_dict(saved)
    for (xa, ya, na), (xb, yb, nb) in zip(ahead, [t.next() for _ in range(8)]):
        assert torch.equal(xa, xb) and torch.equal(ya, yb) and na == nb
