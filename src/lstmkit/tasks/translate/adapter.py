"""``lstmkit inspect`` of translate runs: the decoder's gates and states while it writes its translation."""

from __future__ import annotations

import os

import torch

from .jobs import load_translator

__all__ = ["inspect_adapter"]


def inspect_adapter(run_dir: str | os.PathLike, text: str, checkpoint: str = "auto") -> dict:
    """The inspect protocol for translate runs: ``text`` is translated (greedy), then the model is run once
    under teacher forcing on its own translation, so the decoder's stack (``"decoder.rnn"``) shows a step
    per token it reads: ``<bos>`` and the tokens it wrote. A decoder with input feeding steps token by token
    and is not recorded as a sequence; for such runs the encoder (``"encoder.rnn"``, one step per source
    token) is shown. The attention itself: ``lstmkit translate RUN_DIR --attention DIR``.

    Example::

        >>> import tempfile
        >>> from lstmkit.inspect import recording
        >>> from lstmkit.tasks.translate import TranslateConfig, train, inspect_adapter
        >>> run = tempfile.mkdtemp() + "/run"
        >>> _ = train(TranslateConfig(max_number=300, val_size=4, test_size=0, max_steps=1, hidden=8, embed=8,
        ...                           decoder_hidden=16, batch_size=4), run, stream=open("/dev/null", "w"))
        >>> a = inspect_adapter(run, "ninety-seven")
        >>> a["layers"], a["tokens"][0]
        (['decoder.rnn'], '<bos>')
        >>> with recording(a["model"]) as rec:
        ...     _ = a["run"]()
        >>> rec.last("decoder.rnn")[(0, 0)]["c"].shape[0] == len(a["tokens"])
        True
    """
    translator = load_translator(run_dir, checkpoint)
    out = translator.translate([text.strip()], beam=1)[0]
    model = translator.model
    device = next(model.parameters()).device
    src = torch.tensor([translator.source_vocab.encode(out["source_tokens"], eos=False)], device=device)
    lengths = torch.tensor([src.size(1)])
    tgt = torch.tensor([translator.target_vocab.encode(out["target_tokens"], eos=True)], device=device)

    def run():
        with torch.no_grad():
            return model((src, lengths), tgt)

    if model.decoder.input_feeding:
        return {"model": model, "tokens": out["source_tokens"], "run": run, "layers": ["encoder.rnn"]}
    return {"model": model, "tokens": ["<bos>"] + out["target_tokens"], "run": run, "layers": ["decoder.rnn"]}
