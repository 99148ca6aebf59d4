"""What ``lstmkit inspect`` needs from a charlm run (the inspect adapter protocol): the model, the characters
of the text as tokens, one run over them, and the recurrent stack to show.

Unseen characters follow the vocabulary's reading policy: they are read as ``<unk>`` (id 0), as validation
text is, and still shown as themselves.
"""

from __future__ import annotations

import os

import torch

from .jobs import load_model

__all__ = ["inspect_adapter"]


def inspect_adapter(run_dir: str | os.PathLike, text: str, checkpoint: str = "auto") -> dict:
    """``{"model", "tokens", "run", "layers"}`` for ``text`` read by the charlm run in ``run_dir``.

    Example::

        >>> import tempfile
        >>> from lstmkit.inspect import recording
        >>> from lstmkit.tasks.charlm import CharLMConfig, inspect_adapter, train
        >>> cfg = CharLMConfig(max_steps=2, hidden=8, embed=4, layers=1, batch_size=2, seq_len=8,
        ...                    eval_every=2, eval_chars=200, sample_chars=0, final_sample=0)
        >>> run = train(cfg, tempfile.mkdtemp() + "/run", stream=open("/dev/null", "w")).run
        >>> a = inspect_adapter(run, "def f(x):")
        >>> with recording(a["model"]) as rec:
        ...     _ = a["run"]()
        >>> a["tokens"][:4], a["layers"], rec.last("rnn")[(0, 0)]["c"].shape     # (T, B, H)
        (['d', 'e', 'f', ' '], ['rnn'], torch.Size([9, 1, 8]))
    """
    if not isinstance(text, str) or not text:
        got = repr(text) if isinstance(text, str) else type(text).__name__
        raise ValueError(f"--text must hold at least one character, got {got}")
    model, vocab, _ = load_model(run_dir, checkpoint)
    ids = vocab.encode(text).unsqueeze(1)                                 # (T, 1)

    def run():
        with torch.no_grad():
            return model(ids)

    return {"model": model, "tokens": list(text), "run": run, "layers": ["rnn"]}
