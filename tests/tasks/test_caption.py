"""lstmkit train caption: the data behind one interface (digit canvases, users' images), the task's scores
(digit words, attention score), exact resume, the commands (caption, canvases, eval), bad input."""

import json

import pytest
import torch

pytest.importorskip("sklearn", reason="digit canvases need scikit-learn: pip install 'lstmkit[seq2seq]'")
pytest.importorskip("sacrebleu", reason="BLEU/chrF need sacrebleu: pip install 'lstmkit[seq2seq]'")
PIL = pytest.importorskip("PIL.Image", reason="reading images needs Pillow: pip install 'lstmkit[seq2seq]'")

from lstmkit.cli import main  # noqa: E402
from lstmkit.tasks.caption import CaptionConfig, CaptionTask, digit_accuracy, load_captioner, score_split  # noqa: E402
from lstmkit.tasks.caption.canvas import CANVAS_WORDS  # noqa: E402

TINY = ["--cnn-width", "4", "--decoder-hidden", "8", "--embed", "8", "--batch-size", "4", "--val-size", "4",
        "--backend", "reference"]


def test_digit_data_fixed_held_out_fresh_training_batches():
    task = CaptionTask(CaptionConfig(val_size=6, test_size=5))
    data = task.data
    assert len(data.splits["val"]) == 6 and len(data.splits["test"]) == 5
    again = CaptionTask(CaptionConfig(val_size=6, test_size=5)).data
    assert torch.equal(data.splits["test"].images, again.splits["test"].images)
    images, tgt = data.train_batch(3, torch.Generator().manual_seed(0))
    assert images.shape == (3, 1, 60, 60) and (tgt == 2).sum() == 3
    assert all(w in data.vocab for w in CANVAS_WORDS)
    model = task.build_model()
    assert model.encoder.grid == (15, 15)
    assert data.masks((15, 15)).shape == (9, 225)


def test_scores_of_a_model_that_copies_the_references():
    """score_split's numbers on known captions: a perfect decoder scores 1, the attention score is the
    attention's own mass on the named cells."""
    task = CaptionTask(CaptionConfig(val_size=5, test_size=0))
    refs = [r[0] for r in task.data.splits["val"].references]
    assert digit_accuracy(refs, refs) == 1.0
    assert digit_accuracy(["seven"], ["seven left of two"]) == 0.5
    res = score_split(task.build_model().eval(), task.data, "val")
    assert 0 <= res["digit_accuracy"] <= 1 and 0 <= res["attention_score"] <= 1
    assert res["uniform_score"] == pytest.approx(1 / 9)


def test_train_caption_canvases_eval_and_resume(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "caption", "--out", str(run), "--max-steps", "2", "--eval-every", "1", "--test-size", "3",
                 "--beam", "2", *TINY]) == 0
    report = json.loads((run / "test.json").read_text())
    assert report["images"] == 3 and {"bleu4", "digit_accuracy", "attention_score"} <= set(report["beam_search"])
    assert len(list((run / "attention").glob("*.png"))) == 3
    assert main(["canvases", "--out", str(tmp_path / "c"), "--count", "3"]) == 0
    assert (tmp_path / "c" / "captions.txt").read_text().count("\n") == 3
    assert main(["eval", str(run), "--data", str(tmp_path / "c" / "canvases.npz"), "--json"]) == 0
    assert '"attention_score"' in capsys.readouterr().out
    assert main(["caption", str(run), str(tmp_path / "c" / "canvas-0.png"), str(tmp_path / "c" / "canvas-2.png"),
                 "--attention", str(tmp_path / "pics")]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2 and len(list((tmp_path / "pics").glob("*.png"))) == 2
    # resume continues exactly: 2 steps + 1 more equals 3 straight
    assert main(["train", "caption", "--resume", str(run), "--max-steps", "3"]) == 0
    assert main(["train", "caption", "--out", str(tmp_path / "straight"), "--max-steps", "3", "--eval-every", "1",
                 "--test-size", "3", "--beam", "2", *TINY]) == 0
    a, b = load_captioner(run, "last"), load_captioner(tmp_path / "straight", "last")
    for (k, p), q in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(p, q), k


def test_without_attention(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "caption", "--out", str(run), "--max-steps", "1", "--test-size", "2", "--beam", "2",
                 "--attention", "none", *TINY]) == 0
    report = json.loads((run / "test.json").read_text())
    assert "attention_score" not in report["beam_search"] and not (run / "attention").exists()
    assert main(["canvases", "--out", str(tmp_path / "c"), "--count", "2"]) == 0
    assert main(["eval", str(run), "--data", str(tmp_path / "c" / "canvases.npz")]) == 0


def _images(folder, n=12):
    folder.mkdir()
    lines = []
    for i in range(n):
        colour = (255, 0, 0) if i % 2 else (0, 0, 255)
        PIL.new("RGB", (20, 16), colour).save(folder / f"im{i}.png")
        word = "red" if i % 2 else "blue"
        lines += [f"im{i}.png#0\tA {word} square.\n", f"im{i}.png#1\tSomething {word}!\n"]
    (folder / "captions.txt").write_text("".join(lines), encoding="utf-8")
    return folder


def test_users_images_train_and_caption(tmp_path, capsys):
    d = _images(tmp_path / "imgs")
    run = tmp_path / "run"
    assert main(["train", "caption", "--images", str(d), "--captions", str(d / "captions.txt"), "--image-size", "16",
                 "--val-fraction", "0.2", "--test-fraction", "0.2", "--out", str(run), "--max-steps", "2",
                 "--cnn-blocks", "2", *TINY]) == 0
    report = json.loads((run / "test.json").read_text())
    assert "digit_accuracy" not in report["beam_search"] and "bleu1" in report["beam_search"]
    capsys.readouterr()
    assert main(["caption", str(run), str(d / "im0.png")]) == 0
    assert capsys.readouterr().out.startswith(str(d / "im0.png"))
    assert main(["eval", str(run), "--data", str(d / "captions.txt")]) == 0


def test_bad_input_is_one_clear_line(tmp_path, capsys):
    d = _images(tmp_path / "imgs", n=4)
    (d / "im1.png").write_bytes(b"not a png")
    assert main(["train", "caption", "--images", str(d), "--captions", str(d / "captions.txt"),
                 "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "im1.png" in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "r").exists()
    assert main(["train", "caption", "--images", str(d), "--out", str(tmp_path / "r")]) == 2
    assert "--images and --captions go together" in capsys.readouterr().err
    (d / "bad.txt").write_text("im0.png#0\t\n", encoding="utf-8")
    assert main(["train", "caption", "--images", str(d), "--captions", str(d / "bad.txt"),
                 "--out", str(tmp_path / "r")]) == 2
    assert "bad.txt:1: the caption of im0.png is empty" in capsys.readouterr().err
