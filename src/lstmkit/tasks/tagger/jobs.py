"""What the tagger commands do, callable from Python: train (or resume), load a run, tag, evaluate."""

from __future__ import annotations

import argparse
import json
import pathlib
from typing import IO, Optional, Sequence

import torch
from torch import nn

from ...train import CheckpointError, RunDir, TrainResult
from ..runs import absolute_paths, fit_run, open_checkpoint
from ..scores import confusion, format_report, label_scores, plot_confusion
from .config import TaggerConfig
from .conllu_io import read_conllu
from .data import CharCache, gold_tags, length_batches, make_batch
from .model import Tagger
from .task import TaggerTask
from .vocab import TaggerVocab

__all__ = ["train", "resume", "load_tagger", "load_taggers", "tag_probabilities", "tag_sentences", "evaluate_run"]


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


def load_taggers(run_paths: Sequence[str | pathlib.Path], checkpoint: str = "auto",
                 device: str = "cpu") -> list[tuple[Tagger, TaggerVocab, TaggerConfig]]:
    """:func:`load_tagger` of each run of an ensemble; the runs must predict the same column with the same
    tag set (their word vocabularies may differ: each member reads the words through its own).

    Example::

        >>> import tempfile
        >>> from lstmkit.tasks.tagger import TaggerConfig, train, load_taggers, tag_sentences
        >>> runs = [tempfile.mkdtemp() + "/run" for _ in range(2)]
        >>> for seed, run in enumerate(runs):
        ...     cfg = TaggerConfig(max_steps=60, eval_every=30, lr=0.01, warmup_steps=0, hidden=32, char_hidden=16,
        ...                        seed=seed)
        ...     _ = train(cfg, run, stream=open("/dev/null", "w"))
        >>> members = [(model, vocab) for model, vocab, _ in load_taggers(runs)]
        >>> tag_sentences(members, None, [["The", "dog", "read", "that", "apple"]])
        [['DET', 'NN', 'V', 'DET', 'NN']]
    """
    if not run_paths:
        raise ValueError("expected at least one tagger run, got none")
    members = [load_tagger(path, checkpoint, device) for path in run_paths]
    _, vocab0, cfg0 = members[0]
    for path, (_, vocab, cfg) in zip(run_paths[1:], members[1:]):
        if cfg.column != cfg0.column or vocab.tags != vocab0.tags:
            raise ValueError(f"{path} tags the {cfg.column!r} column with {len(vocab.tags)} tags "
                             f"({' '.join(vocab.tags)}); "
                             f"expected the {cfg0.column!r} tags of {run_paths[0]} ({' '.join(vocab0.tags)}): the "
                             f"members of an ensemble must predict the same tag set")
    return members


Members = Sequence[tuple[Tagger, TaggerVocab]]


def _members(model: Tagger | Members, vocab: Optional[TaggerVocab]) -> Members:
    """One model and its vocabulary, or ``[(model, vocab), ...]`` (an ensemble, ``vocab`` None)."""
    if isinstance(model, nn.Module):
        if vocab is None:
            raise ValueError("a single tagger needs its vocabulary; got vocab=None")
        return [(model, vocab)]
    members = list(model)
    if not members or vocab is not None:
        raise ValueError(f"expected a tagger and its vocabulary, or a non-empty list of (tagger, vocabulary) pairs "
                         f"with vocab=None; got {len(members)} pairs and vocab={type(vocab).__name__}")
    return members


@torch.no_grad()
def tag_probabilities(model: Tagger | Members, vocab: Optional[TaggerVocab], sentences: Sequence[Sequence[str]],
                      batch_size: int = 256) -> list[torch.Tensor]:
    """Each sentence's tag distribution per word, (n_words, n_tags) in input order: the model's softmax, or
    the mean of the members' softmaxes for an ensemble (``model`` a list of (tagger, vocabulary), ``vocab``
    None). Each member reads the words through its own vocabulary and character cache."""
    members = _members(model, vocab)
    caches = [CharCache(v) for _, v in members]
    out: list[Optional[torch.Tensor]] = [None] * len(sentences)
    for idx in length_batches([len(s) for s in sentences], batch_size):
        words = [sentences[i] for i in idx]
        probs = None
        for (m, v), chars in zip(members, caches):
            m.eval()
            batch = make_batch(words, v, chars=chars).to(next(m.parameters()).device)
            p = m(batch).float().softmax(2).cpu()                        # (T, B, K)
            probs = p if probs is None else probs.add_(p)
        probs /= len(members)
        for b, i in enumerate(idx):
            out[i] = probs[: len(sentences[i]), b]
    return out


def predict(model: Tagger | Members, vocab: Optional[TaggerVocab], sentences: Sequence[Sequence[str]],
            batch_size: int = 256) -> list[torch.Tensor]:
    """Predicted tag ids of each sentence (in input order); an ensemble as in :func:`tag_probabilities`."""
    return [p.argmax(1) for p in tag_probabilities(model, vocab, sentences, batch_size)]


def tag_sentences(model: Tagger | Members, vocab: Optional[TaggerVocab],
                  sentences: Sequence[Sequence[str]]) -> list[list[str]]:
    """The tags of each sentence (lists of words). Unseen words are read through their characters.
    ``model`` may be a list of (tagger, vocabulary) pairs with ``vocab`` None: an ensemble that averages
    their tag distributions (:func:`load_taggers`)."""
    for k, s in enumerate(sentences):
        if not s:
            raise ValueError(f"sentence {k + 1} is empty; expected at least one word")
    members = _members(model, vocab)
    tags = members[0][1].tags
    return [[tags[t] for t in ids.tolist()] for ids in predict(members, None, sentences)]


def evaluate_run(run: RunDir, data: str, args: argparse.Namespace) -> dict:
    """``lstmkit eval`` for tagger runs: accuracy (also on words unseen in training), per-tag P/R/F1 and
    the confusion matrix (PNG) on a CoNLL-U file; gold tags the training data lacks are refused (file:line).
    ``args.ensemble`` (more runs, :class:`RunDir`) evaluates the ensemble of ``run`` and them; "unseen"
    then means unseen by the first run's vocabulary."""
    paths = [run.path] + [r.path for r in getattr(args, "ensemble", [])]
    loaded = load_taggers(paths, getattr(args, "checkpoint", "auto"))
    _, vocab, cfg = loaded[0]
    sentences = read_conllu(data, (cfg.column,))
    gold = gold_tags(sentences, cfg.column, vocab, str(data))
    pred = predict([(m, v) for m, v, _ in loaded], None, [s.words for s in sentences])
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
