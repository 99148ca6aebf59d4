"""The tagger's side of ``lstmkit inspect``: what the sentence BiLSTM reads, one word per step."""

from __future__ import annotations

import os

import torch

from .data import make_batch
from .jobs import load_tagger

__all__ = ["inspect_adapter"]


def inspect_adapter(run_dir: str | os.PathLike, text: str, checkpoint: str = "auto") -> dict:
    """The inspect protocol for tagger runs: the model, the words of ``text`` (split on whitespace) as the
    tokens, a callable that tags them once (batch of 1, no grad), and the sentence BiLSTM (``"rnn"``) as
    the layer whose steps are the words. Words the vocabulary lacks follow the tagger's policy (<unk> word
    embedding, read through their characters); an empty text raises ValueError.

    Example::

        >>> import tempfile
        >>> from lstmkit.inspect import recording
        >>> from lstmkit.tasks.tagger import TaggerConfig, train, inspect_adapter
        >>> run = tempfile.mkdtemp() + "/run"
        >>> _ = train(TaggerConfig(max_steps=2, hidden=8, char_hidden=4), run, stream=open("/dev/null", "w"))
        >>> a = inspect_adapter(run, "The dog read a book")
        >>> a["tokens"], a["layers"]
        (['The', 'dog', 'read', 'a', 'book'], ['rnn'])
        >>> with recording(a["model"]) as rec:
        ...     a["run"]()
        >>> rec.last("rnn")[(1, 1)]["h"].shape                  # layer 1, backward: (T, B, H)
        torch.Size([5, 1, 8])
    """
    model, vocab, _ = load_tagger(run_dir, checkpoint)
    words = text.split()
    if not words:
        raise ValueError(f"the text to inspect must hold at least one word; got {text!r}")
    batch = make_batch([words], vocab).to(next(model.parameters()).device)

    def run() -> None:
        with torch.no_grad():
            model(batch)

    return {"model": model, "tokens": words, "run": run, "layers": ["rnn"]}
