"""What the tagger commands do, callable from Python: train (or resume), load a run, tag, evaluate."""

from __future__ import annotations

import argparse
import json
import pathlib
from typing import IO, Optional, Sequence

import torch

from ...train import CheckpointError, RunDir, TrainResult
from ..runs import absolute_paths, fit_run, open_checkpoint
from ..scores import confusion, format_report, label_scores, plot_confusion
from .config import TaggerConfig
from .conllu_io import read_conllu
from .data import CharCache, gold_tags, length_batches, make_batch
from .model import Tagger
from .task import TaggerTask
from .vocab import TaggerVocab

__all__ = ["train", "resume", "load_tagger", "tag_sentences", "evaluate_run"]


def _resolve(cfg: TaggerConfig) -> TaggerConfig:
    """Paths made absolute (the run resumes from any folder) and max_steps 0 resolved."""
    absolute_paths(cfg, ("train", "dev"))
    cfg.max_steps = cfg.resolved_max_steps()
    cfg.validate()
    return cfg


def train(cfg: TaggerConfig, out: Optional[str | pathlib.Path] = None, stream: Optional[IO] = None) -> TrainResult:
    """Train a new run into ``out`` (default ``runs/tagger-<timestamp>``); the data are read and checked
    before the folder is made, so bad input leaves nothing behind.

    Example (the two-sentence demo)::

        >>> import tempfile
        >>> from lstmkit.tasks.tagger import TaggerConfig, train, load_tagger, tag_sentences
        >>> run = tempfile.mkdtemp() + "/run"
        >>> cfg = TaggerConfig(max_steps=60, eval_every=30, lr=0.01, warmup_steps=0, hidden=32, char_hidden=16)
        >>> result = train(cfg, run, stream=open("/dev/null", "w"))
        >>> model, vocab, _ = load_tagger(run)
        >>> tag_sentences(model, vocab, [["The", "dog", "read", "that", "apple"]])
        [['DET', 'NN', 'V', 'DET', 'NN']]
    """
    cfg = _resolve(cfg)
    return fit_run(TaggerTask(cfg), out, stream=stream)[0]


def resume(run_path: str | pathlib.Path, cfg: TaggerConfig, stream: Optional[IO] = None) -> TrainResult:
    """Continue run ``run_path`` exactly from its ``last`` checkpoint (``cfg`` may change only --max-time)."""
    return fit_run(TaggerTask(_resolve(cfg)), resume=run_path, stream=stream)[0]


def load_tagger(run_path: str | pathlib.Path, checkpoint: str = "auto",
                device: str = "cpu") -> tuple[Tagger, TaggerVocab, TaggerConfig]:
    """``(model in eval mode, vocabulary, config)`` of a tagger run; ``checkpoint``: best, last or auto."""
    cfg, state, checkpoint = open_checkpoint(run_path, TaggerConfig, checkpoint)
    try:
        vocab = TaggerVocab.from_json(state["meta"]["vocab"])
        aux_sizes = [len(tags) for _, tags in state["meta"].get("aux_tags", [])]
        model = Tagger(len(vocab.words), len(vocab.chars), len(vocab.tags), cfg, aux_sizes)
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError) as e:
        raise CheckpointError(f"checkpoint {checkpoint} of {run_path} does not match the run's "
                              f"config.json: {str(e).splitlines()[0]}") from None
    return model.to(device).eval(), vocab, cfg


@torch.no_grad()
def predict(model: Tagger, vocab: TaggerVocab, sentences: Sequence[Sequence[str]],
            batch_size: int = 256) -> list[torch.Tensor]:
    """Predicted tag ids of each sentence (in input order)."""
    model.eval()
    device = next(model.parameters()).device
    chars = CharCache(vocab)
    out: list[Optional[torch.Tensor]] = [None] * len(sentences)
    for idx in length_batches([len(s) for s in sentences], batch_size):
        batch = make_batch([sentences[i] for i in idx], vocab, chars=chars).to(device)
        best = model(batch).argmax(2).cpu()                              # (T, B)
        for b, i in enumerate(idx):
            out[i] = best[: len(sentences[i]), b]
    return out


def tag_sentences(model: Tagger, vocab: TaggerVocab, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
    """The tags of each sentence (lists of words). Unseen words are read through their characters."""
    for k, s in enumerate(sentences):
        if not s:
            raise ValueError(f"sentence {k + 1} is empty; expected at least one word")
    return [[vocab.tags[t] for t in ids.tolist()] for ids in predict(model, vocab, sentences)]


def evaluate_run(run: RunDir, data: str, args: argparse.Namespace) -> dict:
    """``lstmkit eval`` for tagger runs: accuracy (also on words unseen in training), per-tag P/R/F1 and
    the confusion matrix (PNG) on a CoNLL-U file; gold tags the training data lacks are refused (file:line)."""
    model, vocab, cfg = load_tagger(run.path, getattr(args, "checkpoint", "auto"))
    sentences = read_conllu(data, (cfg.column,))
    gold = gold_tags(sentences, cfg.column, vocab, str(data))
    pred = predict(model, vocab, [s.words for s in sentences])
    g, p = torch.cat(gold), torch.cat(pred)
    matrix = confusion(g, p, len(vocab.tags))
    scores = label_scores(matrix, vocab.tags)
    known = torch.tensor([vocab.norm(w) in vocab.word_index for s in sentences for w in s.words])
    unseen = ~known
    scores["unseen_words"] = int(unseen.sum())
    scores["unseen_accuracy"] = float((g[unseen] == p[unseen]).double().mean()) if unseen.any() else None
    out = pathlib.Path(args.out) if getattr(args, "out", None) else run.path / "eval"
    png = out / f"confusion-{pathlib.Path(data).stem}.png"
    plot_confusion(matrix, vocab.tags, png, f"{cfg.column.upper()} confusion: {pathlib.Path(data).name}")
    scores["confusion_png"] = str(png)
    print(format_report(scores, cfg.column.upper()))
    if scores["unseen_accuracy"] is not None:
        print(f"words outside the word vocabulary: {scores['unseen_words']}, accuracy "
              f"{100 * scores['unseen_accuracy']:.2f}%")
    print(f"confusion matrix: {png}")
    return json.loads(json.dumps(scores))
