"""What the encoder-decoder jobs (``translate``, ``caption``) share: the decoder and decoding settings, the
decoder built from them, batched decoding of a whole split, and the scores (BLEU and chrF from
``sacrebleu``, the field's standard implementation; exact match)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import Tensor

from ..seq2seq import ATTENTION_KINDS, AttentionDecoder, Decoded, Seq2Seq
from ..train import TrainConfig, TrainTask, backend_opt, opt

__all__ = ["Seq2SeqConfig", "Seq2SeqTask", "build_decoder", "decode_all", "text_scores", "need_sacrebleu",
           "add_decoding_args", "check_decoding_args"]


@dataclass
class Seq2SeqConfig(TrainConfig):
    """The decoder's and the decoding's settings, shared by ``lstmkit train translate`` and ``caption``."""

    batch_size: int = opt(64, "pairs per training batch (drawn afresh every step)")
    lr: float = opt(2e-3, "peak learning rate of AdamW")
    weight_decay: float = opt(0.0, "AdamW weight decay, on matrices only (not biases, gains)")
    embed: int = opt(64, "target (and source) token embedding size")
    decoder_hidden: int = opt(256, "hidden units of the decoder's LSTM stack (and of the attentional vector)")
    decoder_layers: int = opt(1, "layers of the decoder's stack")
    decoder_cell: str = opt("lstm", "the decoder's recurrent cell", choices=("lstm", "gru"))
    attention: str = opt("general", "score function of the attention: additive (Bahdanau et al. 2015), dot or "
                                    "general (Luong et al. 2015), or none: the plain encoder-decoder that sees the "
                                    "source only through its initial state", choices=ATTENTION_KINDS + ("none",))
    input_feeding: bool = opt(False, "feed the previous attentional vector into the decoder (Luong et al. 2015); "
                                     "off, teacher forcing runs the decoder over the whole target in one call")
    dropout: float = opt(0.1, "dropout on embeddings, between layers and before the output layer")
    label_smoothing: float = opt(0.0, "label smoothing of the cross-entropy (0: none)")
    beam: int = opt(5, "beam width for the final test and `lstmkit eval` (1: greedy)", control=True)
    length_alpha: float = opt(0.6, "length penalty exponent of beam search: scores are log p / ((5+n)/6)^alpha",
                              control=True)
    backend: str = backend_opt()

    def validate(self) -> None:
        super().validate()
        for name in ("batch_size", "embed", "decoder_hidden", "decoder_layers", "beam"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.length_alpha < 0:
            raise ValueError(f"length_alpha must be >= 0, got {self.length_alpha}")
        self.check_probabilities("dropout", "label_smoothing")


class Seq2SeqTask(TrainTask):
    """What the two jobs' tasks share: a generator for drawing training batches, saved in checkpoints, and
    the config checked on construction."""

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__(config)
        config.validate()
        self.gen = torch.Generator().manual_seed(config.seed + 1)
        self.device = torch.device(config.device)

    def state_dict(self) -> dict:
        return {"generator": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["generator"])


def add_decoding_args(parser, job: str, attention_help: str) -> None:
    """The decoding flags of ``lstmkit translate`` / ``lstmkit caption``: the run, beam, length penalty,
    checkpoint, attention pictures."""
    parser.add_argument("run", metavar="RUN_DIR", help=f"a run folder made by lstmkit train {job}")
    parser.add_argument("--beam", type=int, default=5, metavar="N", help="beam width (1: greedy; default 5)")
    parser.add_argument("--alpha", type=float, default=0.6,
                        help="length penalty exponent of beam search (default 0.6)")
    parser.add_argument("--max-len", type=int, default=None, metavar="N",
                        help="most tokens an output may have (default: twice the longest training target + 10)")
    parser.add_argument("--checkpoint", choices=("auto", "best", "last"), default="auto",
                        help="which checkpoint (default: auto = best if there is one, else last)")
    parser.add_argument("--attention", metavar="DIR", default=None, help=attention_help)


def check_decoding_args(args) -> None:
    if args.beam < 1:
        raise ValueError(f"--beam must be >= 1, got {args.beam}")
    if args.alpha < 0:
        raise ValueError(f"--alpha must be >= 0, got {args.alpha}")
    if args.max_len is not None and args.max_len < 1:
        raise ValueError(f"--max-len must be >= 1, got {args.max_len}")


def build_decoder(cfg: Seq2SeqConfig, vocab_size: int, memory_size: int, summary_size: int) -> AttentionDecoder:
    """The attending decoder the config describes, over annotations of ``memory_size``."""
    if cfg.attention == "dot" and memory_size != cfg.decoder_hidden:
        raise ValueError(f"attention 'dot' needs decoder_hidden equal to the encoder's annotation size "
                         f"{memory_size}, got {cfg.decoder_hidden}; use attention 'general' or 'additive'")
    return AttentionDecoder(vocab_size, cfg.embed, cfg.decoder_hidden, cfg.decoder_layers, memory_size,
                            summary_size, attention=cfg.attention, input_feeding=cfg.input_feeding,
                            cell=cfg.decoder_cell, dropout=cfg.dropout, backend=cfg.backend)


@torch.no_grad()
def decode_all(model: Seq2Seq, n: int, source: Callable[[list[int]], tuple], max_len: int, beam: int = 1,
               alpha: float = 0.6, attention: bool = False, batch: int = 128,
               order: Sequence[int] | None = None) -> Decoded:
    """Decode examples ``0..n-1`` in batches; ``source(indices)`` gives the encoder inputs of those examples.
    ``order`` (e.g. the examples sorted by length, so batches pad little) only changes the batching: the
    result is in example order. ``weights`` is None unless ``attention`` and the model attends."""
    order = list(order) if order is not None else list(range(n))
    tokens: list = [None] * n
    scores: list = [None] * n
    weights: list = [None] * n
    for s in range(0, n, batch):
        idx = order[s:s + batch]
        out = model.translate(source(idx), max_len=max_len, beam=beam, alpha=alpha, attention=attention)
        for j, i in enumerate(idx):
            tokens[i], scores[i] = out.tokens[j], out.scores[j]
            weights[i] = out.weights[j] if out.weights is not None else None
    return Decoded(tokens, scores, weights if attention and any(w is not None for w in weights) else None)


def need_sacrebleu():
    try:
        import sacrebleu
    except ImportError as e:
        raise ImportError(f"BLEU and chrF need sacrebleu ({e}): pip install 'lstmkit[seq2seq]'") from None
    return sacrebleu


def text_scores(hypotheses: Sequence[str], references: Sequence[Sequence[str]] | Sequence[str],
                bleu_orders: Sequence[int] = (), tokenize: str = "13a") -> dict[str, float]:
    """Corpus BLEU and chrF (sacrebleu) and exact match of ``hypotheses`` against one reference each (a str)
    or several (a list of str per hypothesis); ``bleu_orders`` adds BLEU-n for each n (``bleu1``..).

    Example::

        >>> from lstmkit.tasks.seq2seq_jobs import text_scores
        >>> s = text_scores(["the cat sat on the mat", "a dog"], ["the cat sat on the mat", "the dog"])
        >>> s["exact"], round(s["bleu"], 1) > 50
        (0.5, True)
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"got {len(hypotheses)} hypotheses for {len(references)} references; expected one "
                         f"reference (or list of references) per hypothesis")
    sacrebleu = need_sacrebleu()
    refs = [[r] if isinstance(r, str) else list(r) for r in references]
    width = max((len(r) for r in refs), default=1)
    streams = [[r[k] if k < len(r) else r[0] for r in refs] for k in range(width)]   # sacrebleu: one stream per reference
    hyps = list(hypotheses)
    out = {"bleu": sacrebleu.BLEU(tokenize=tokenize).corpus_score(hyps, streams).score,
           "chrf": sacrebleu.CHRF().corpus_score(hyps, streams).score,
           "exact": sum(h in r for h, r in zip(hyps, refs)) / max(1, len(hyps))}
    for n in bleu_orders:
        out[f"bleu{n}"] = sacrebleu.BLEU(tokenize=tokenize, max_ngram_order=n).corpus_score(hyps, streams).score
    return out
