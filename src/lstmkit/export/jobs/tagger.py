"""The sequence tagger's export: word ids (+ character ids) and lengths -> tag scores, probabilities and
tags."""

from __future__ import annotations

import numpy as np
import torch

from .common import Exported, _B, _finish, _io, _lengths_for, _onnx_missing, _rng


TAGGER_HOW = [
    "Inputs: words (B, T) int64 word ids (lowercased first when 'lowercase'; a word outside 'words' reads as "
    "unknown_word_id), lengths (B,) int64 words per sentence (pad past it with 0); with character features "
    "also chars (B, T, L) int64 the ids of each word's characters ('chars'; outside it: unknown_char_id; "
    "0-padded) and char_lengths (B, T) int64 characters per word.",
    "Outputs: scores (B, T, n_tags) and probabilities (softmax over the tags), tags (B, T) int64 the most "
    "likely tag id (name: tags[id]); positions past a sentence's length are padding: ignore them.",
]


def tagger_export(model, vocab, opset: int = 17) -> Exported:
    """The tagger ``model`` (:class:`~lstmkit.tasks.tagger.Tagger`, softmax per word: it has no CRF) with its
    ``vocab`` (:class:`~lstmkit.tasks.tagger.vocab.TaggerVocab`)."""
    _onnx_missing()
    model = model.eval()
    K = model.head.out_features
    b = _B("lstmkit_tagger", opset)
    words = b.g.input("words", "int64", ["batch", "steps"])
    lengths = b.g.input("lengths", "int64", ["batch"])
    spelled = model.char_encoder is not None
    inputs = {"words": (["batch", "steps"], "int64"), "lengths": (["batch"], "int64")}
    parts = []
    if model.word_embed is not None:
        parts.append(b.embed(b.transpose(words, (1, 0)), model.word_embed, "word_embed"))    # (T, B, Ew)
    if spelled:
        chars = b.g.input("chars", "int64", ["batch", "steps", "word_length"])
        char_lengths = b.g.input("char_lengths", "int64", ["batch", "steps"])
        inputs.update(chars=(["batch", "steps", "word_length"], "int64"), char_lengths=(["batch", "steps"], "int64"))
        v = b.char_words(chars, char_lengths, model.char_encoder)                           # (B, T, 2Hc)
        parts.append(b.transpose(v, (1, 0, 2)))                                              # (T, B, 2Hc)
    x = b.op("Concat", parts, axis=2) if len(parts) > 1 else parts[0]
    out, _, _ = b.recurrent(model.rnn, x, lengths=lengths)                                   # (T, B, 2H)
    scores = b.transpose(b.linear(out, model.head, "head"), (1, 0, 2))                       # (B, T, K)
    probs = b.op("Softmax", [scores], axis=-1)
    tags = b.op("ArgMax", [scores], axis=-1, keepdims=0)
    shapes = {"scores": ["batch", "steps", K], "probabilities": ["batch", "steps", K], "tags": ["batch", "steps"]}
    onnx_model = _finish(b, {"scores": (scores, "float32", shapes["scores"]),
                             "probabilities": (probs, "float32", shapes["probabilities"]),
                             "tags": (tags, "int64", shapes["tags"])})
    meta = {"job": "tagger", "inputs": _io(inputs),
            "outputs": _io({"scores": (shapes["scores"], "float32"), "probabilities": (shapes["probabilities"],
                            "float32"), "tags": (shapes["tags"], "int64")}),
            "words": vocab.words, "chars": vocab.chars if spelled else [], "tags": vocab.tags,
            "lowercase": vocab.lowercase, "pad_id": 0, "unknown_word_id": 1, "unknown_char_id": 1,
            "character_features": spelled, "decoding": "argmax per word (softmax tagger, no CRF)",
            "how_to_run": TAGGER_HOW}

    def example(batch: int = 2, length: int = 7, seed: int = 0) -> dict:
        rng = _rng(seed)
        n = _lengths_for(rng, batch, length)
        valid = np.arange(length)[None, :] < n[:, None]
        feed = {"words": np.where(valid, rng.integers(1, len(vocab.words), (batch, length)), 0).astype(np.int64),
                "lengths": n}
        if spelled:
            L = 6
            cl = np.where(valid, rng.integers(1, L + 1, (batch, length)), 0).astype(np.int64)
            ch = rng.integers(1, len(vocab.chars), (batch, length, L))
            feed["chars"] = np.where(np.arange(L)[None, None, :] < cl[..., None], ch, 0).astype(np.int64)
            feed["char_lengths"] = cl
        return feed

    @torch.no_grad()
    def reference(feed: dict) -> dict:
        from ...tasks.tagger.model import Batch

        w = torch.from_numpy(feed["words"])
        B, T = w.shape
        if spelled:
            cl = torch.from_numpy(feed["char_lengths"]).reshape(-1).clamp(min=1)            # one word per position
            chars = torch.from_numpy(feed["chars"]).reshape(B * T, -1).t()
            types = torch.arange(B * T).reshape(B, T).t()
        else:
            cl, chars, types = torch.ones(1, dtype=torch.long), torch.zeros(1, 1, dtype=torch.long), \
                torch.zeros(T, B, dtype=torch.long)
        s = model(Batch(w.t(), torch.from_numpy(feed["lengths"]), chars, cl, types)).transpose(0, 1)
        return {"scores": s.numpy(), "probabilities": s.softmax(-1).numpy(), "tags": s.argmax(-1).numpy()}

    return Exported("tagger", onnx_model, meta, example, reference)
