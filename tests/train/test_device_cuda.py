"""Every job trains on a GPU (``--device cuda``) and its checkpoints load on CPU; a run made on a device this
machine lacks opens (and resumes) as a CPU run. The CUDA tests skip without a GPU; the last test runs anywhere."""

from __future__ import annotations

import contextlib
import io
import json
import math

import pytest
import torch

from lstmkit.cli import main
from lstmkit.train import RunDir, load_checkpoint

NO_CUDA = "trains each job on CUDA: torch.cuda.is_available() is False here (no GPU, or a CPU-only torch)"


def quiet(argv):
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(io.StringIO()) as err:
        code = main(argv)
    return code, out.getvalue() + err.getvalue()


def _text(d):
    from lstmkit.tasks.charlm import default_corpus
    p = d / "input.txt"
    p.write_text(default_corpus()[:12_000], encoding="utf-8")
    return ["--text", str(p), "--hidden", "16", "--embed", "8", "--layers", "1", "--batch-size", "4", "--seq-len",
            "16", "--eval-chars", "200", "--sample-chars", "20", "--final-sample", "20"]


def _conllu(d):
    rows = [[("The", "DET"), ("dog", "NOUN"), ("ate", "VERB"), (".", "PUNCT")],
            [("A", "DET"), ("cat", "NOUN"), ("saw", "VERB"), ("a", "DET"), ("dog", "NOUN"), (".", "PUNCT")]]
    text = "\n\n".join("\n".join(f"{i}\t{w}\t{w.lower()}\t{t}\t_\t_\t0\tdep\t_\t_" for i, (w, t) in enumerate(s, 1))
                       for s in rows * 3) + "\n\n"
    (d / "t.conllu").write_text(text)
    return ["--train", str(d / "t.conllu"), "--dev", str(d / "t.conllu"), "--hidden", "16", "--char-hidden", "8",
            "--word-dim", "8", "--char-dim", "8"]


def _words(d):
    rows = ["text,label"] + [f"{w} is great,pos" for w in ("food", "room")] * 4 + \
           [f"{w} was awful,neg" for w in ("food", "room")] * 4
    (d / "w.csv").write_text("\n".join(rows) + "\n")
    return ["--data", str(d / "w.csv"), "--dev-fraction", "0.25", "--tokens", "word", "--pooling", "mean",
            "--hidden", "8", "--embed", "8", "--batch-size", "4"]


def _series(d):
    rows = ["t,y"] + [f"{t},{10 + math.sin(2 * math.pi * t / 12) + 0.05 * t:.5f}" for t in range(120)]
    (d / "s.csv").write_text("\n".join(rows) + "\n")
    return ["--csv", str(d / "s.csv"), "--target", "y", "--window", "12", "--horizon", "3", "--hidden", "8",
            "--ensemble", "2"]


#: job -> (extra arguments from a folder, how the job loads a run on CPU: run path -> a module or (module, ...))
JOBS = {
    "charlm": (_text, lambda r: __import__("lstmkit.tasks.charlm.jobs", fromlist=["x"]).load_model(r)[0]),
    "tagger": (_conllu, lambda r: __import__("lstmkit.tasks.tagger.jobs", fromlist=["x"]).load_tagger(r)[0]),
    "classify": (lambda d: ["--hidden", "8", "--embed", "8", "--batch-size", "8", "--pooling", "attention"],
                 lambda r: __import__("lstmkit.tasks.classify.jobs", fromlist=["x"]).load_classifier(r)[0]),
    "classify-words": (_words, lambda r: __import__("lstmkit.tasks.classify.jobs", fromlist=["x"]).load_classifier(r)[0]),
    "ctc": (lambda d: ["--hidden", "8", "--layers", "1", "--batch-size", "4", "--val-lines", "4", "--test-lines", "3",
                       "--beam", "2"],
            lambda r: __import__("lstmkit.tasks.ctc.jobs", fromlist=["x"]).load_model(r)[0]),
    "forecast": (_series, lambda r: __import__("lstmkit.tasks.forecast.jobs", fromlist=["x"]).load_model(r)[0]),
    "translate": (lambda d: ["--hidden", "8", "--decoder-hidden", "16", "--embed", "8", "--batch-size", "4",
                             "--val-size", "4", "--max-number", "500", "--test-size", "4", "--beam", "2"],
                  lambda r: __import__("lstmkit.tasks.translate.jobs", fromlist=["x"]).load_translator(r).model),
    "caption": (lambda d: ["--cnn-width", "4", "--decoder-hidden", "8", "--embed", "8", "--batch-size", "4",
                           "--val-size", "4", "--test-size", "3", "--beam", "2"],
                lambda r: __import__("lstmkit.tasks.caption.jobs", fromlist=["x"]).load_captioner(r).model),
}


def _tensors(tree):
    if isinstance(tree, torch.Tensor):
        yield tree
    elif isinstance(tree, dict):
        for v in tree.values():
            yield from _tensors(v)
    elif isinstance(tree, (list, tuple)):
        for v in tree:
            yield from _tensors(v)


@pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)
@pytest.mark.parametrize("job", list(JOBS))
def test_job_trains_on_cuda_and_its_checkpoint_loads_on_cpu(job, tmp_path):
    args, load = JOBS[job]
    task = job.split("-")[0]
    run = tmp_path / "run"
    code, said = quiet(["train", task, "--out", str(run), "--device", "cuda", "--max-steps", "3", "--eval-every", "2",
                        "--log-every", "1", *args(tmp_path)])
    assert code == 0, said
    assert json.loads((run / "config.json").read_text())["device"] == "cuda"
    for name in ("last", "best"):
        if (run / "checkpoints" / f"{name}.json").exists():
            state = load_checkpoint(run / "checkpoints", name)["state"]
            assert all(t.device.type == "cpu" for t in _tensors(state))
    model = load(run)
    assert all(p.device.type == "cpu" for p in model.parameters())
    code, said = quiet(["train", task, "--resume", str(run), "--max-steps", "4"])     # resumes on the GPU
    assert code == 0, said


def test_a_run_made_on_a_device_this_machine_lacks_opens_and_resumes_on_cpu(tmp_path):
    """A run trained on a GPU, copied to a machine without one: its config names a device not here, which
    reads as cpu (for loading, sampling, eval and --resume), not as an error."""
    from lstmkit.tasks.charlm import CharLMConfig
    from lstmkit.tasks.charlm.jobs import load_model
    run = tmp_path / "run"
    code, said = quiet(["train", "charlm", "--out", str(run), "--max-steps", "2", "--eval-every", "2",
                        *_text(tmp_path)])
    assert code == 0, said
    cfg = json.loads((run / "config.json").read_text())
    cfg["device"] = f"cuda:{max(torch.cuda.device_count(), 1) + 7}"           # a device no machine here has
    (run / "config.json").write_text(json.dumps(cfg))
    assert RunDir.open(run).config(CharLMConfig).device == "cpu"
    model = load_model(run)[0]
    assert all(p.device.type == "cpu" for p in model.parameters())
    code, said = quiet(["train", "charlm", "--resume", str(run), "--max-steps", "3"])
    assert code == 0, said
    assert quiet(["sample", str(run), "--length", "10"])[0] == 0
