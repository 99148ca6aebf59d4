"""The sequence classifier: tokens (embedding) or numeric steps (linear) -> recurrent stack -> pooling -> logits;
and an ensemble of such classifiers trained side by side."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ...layers import Dropout, GRU, LSTM, RNN
from ..tagger.model import CharEncoder
from .config import ClassifyConfig

__all__ = ["SequenceClassifier", "ClassifierEnsemble", "build_classifier", "combine"]


class SequenceClassifier(nn.Module):
    """Class scores for padded sequences: ``forward(x, lengths)`` with ``x`` (T, B) token ids, (T, B, 1 + K)
    spelled words (word id, then the ids of its first K characters, 0-padded) or (T, B, F) numbers, and
    ``lengths`` (B,) -> logits (B, n_classes).

    A spelled word reads as [embedding of its id; the last states of a character BiLSTM over its spelling]
    (``cfg.char_hidden`` units per direction), so a word training never saw (id 1, <unk>) still brings its
    prefixes and suffixes ("un-", "-less", "-est"). ``cfg.word_dropout`` replaces training tokens' ids by <unk>
    (their spelling stays).

    Pooling over the recurrent outputs (T, B, D*H), each sequence up to its own length: ``last`` (the final
    state of each direction: the forward direction's at the sequence's last step, the backward one's at its
    first), ``mean``, ``max``, or ``attention`` (a learned score per step, softmax over the valid steps).

    Example::

        >>> import torch
        >>> from lstmkit.tasks.classify import ClassifyConfig, SequenceClassifier
        >>> model = SequenceClassifier(3, ClassifyConfig(hidden=8, embed=4), vocab_size=20).eval()
        >>> model(torch.randint(1, 20, (7, 2)), torch.tensor([7, 3])).shape
        torch.Size([2, 3])
        >>> spelled = SequenceClassifier(2, ClassifyConfig(hidden=8, embed=4, tokens="word", char_hidden=6),
        ...                              vocab_size=20, n_chars=30).eval()
        >>> spelled(torch.randint(1, 20, (7, 2, 1 + 5)), torch.tensor([7, 3])).shape
        torch.Size([2, 2])
        >>> numeric = SequenceClassifier(4, ClassifyConfig(hidden=8, pooling="max"), features=1).eval()
        >>> numeric(torch.randn(5, 2, 1), torch.tensor([5, 2])).shape
        torch.Size([2, 4])
    """

    def __init__(self, n_classes: int, cfg: ClassifyConfig, vocab_size: int = 0, features: int = 0,
                 n_chars: int = 0) -> None:
        super().__init__()
        if bool(vocab_size) == bool(features):
            raise ValueError(f"expected either vocab_size (tokens) or features (numbers), got {vocab_size} and "
                             f"{features}")
        if bool(n_chars) != bool(cfg.char_hidden and vocab_size):
            raise ValueError(f"expected n_chars (the spelling's alphabet) exactly when char_hidden is set for "
                             f"tokens, got n_chars={n_chars} with char_hidden={cfg.char_hidden}")
        self.input = nn.Embedding(vocab_size, cfg.embed, padding_idx=0) if vocab_size else \
            nn.Linear(features, cfg.embed)
        self.spelling = CharEncoder(n_chars, cfg.char_dim, cfg.char_hidden, cfg.backend) if n_chars else None
        size_in = cfg.embed + (2 * cfg.char_hidden if n_chars else 0)
        cls = {"lstm": LSTM, "gru": GRU, "rnn": RNN}[cfg.cell]
        self.rnn = cls(size_in, cfg.hidden, num_layers=cfg.layers, bidirectional=cfg.bidirectional,
                       dropout=cfg.dropout if cfg.layers > 1 else 0.0, backend=cfg.backend)
        self.pooling, self.directions, self.layers = cfg.pooling, 2 if cfg.bidirectional else 1, cfg.layers
        size = self.directions * cfg.hidden
        self.score = nn.Linear(size, 1) if cfg.pooling == "attention" else None
        self.drop = Dropout(cfg.dropout)
        self.word_dropout = cfg.word_dropout if vocab_size else 0.0
        self.head = nn.Linear(size, n_classes)
        self.n_classes = n_classes

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        out, state = self.rnn(self.drop(self.embed(x)), lengths=lengths)          # (T, B, D*H)
        return self.head(self.drop(self.pool(out, state, lengths)))             # (B, C)

    def embed(self, x: Tensor) -> Tensor:
        """(T, B) token ids, (T, B, 1 + spell) spelled words or (T, B, F) numbers -> (T, B, input size)."""
        spelled = x[..., 1:] if self.spelling is not None else None
        if spelled is not None:
            x = x[..., 0]
        if self.training and self.word_dropout:                                 # whole tokens read as <unk>
            x = x.masked_fill((x > 1) & (torch.rand(x.shape, device=x.device) < self.word_dropout), 1)
        e = self.input(x)
        if spelled is None:
            return e
        words, which = torch.unique(spelled.reshape(-1, spelled.shape[-1]), dim=0, return_inverse=True)  # (U, K)
        vectors = self.spelling(words.t(), (words > 0).sum(1).clamp(min=1))     # (U, 2 * char_hidden)
        return torch.cat([e, vectors[which].reshape(*x.shape, -1)], dim=2)

    def member_logits(self, x: Tensor, lengths: Tensor) -> Tensor:
        """(1, B, C): the scores as an ensemble of one (see :class:`ClassifierEnsemble`)."""
        return self(x, lengths).unsqueeze(0)

    def pool(self, out: Tensor, state, lengths: Tensor) -> Tensor:
        """(T, B, D*H) outputs -> (B, D*H)."""
        T = out.shape[0]
        lengths = lengths.to(out.device)                                        # the batch keeps them on CPU
        valid = (torch.arange(T, device=out.device).unsqueeze(1) < lengths.unsqueeze(0)).unsqueeze(2)  # (T, B, 1)
        if self.pooling == "last":
            h = state[0] if isinstance(state, tuple) else state                   # (L*D, B, H)
            return torch.cat(list(h[-self.directions:]), dim=1)                 # last layer's directions
        if self.pooling == "mean":
            return out.sum(0) / lengths.unsqueeze(1).to(out.dtype)              # zero past each end
        if self.pooling == "max":
            return out.masked_fill(~valid, float("-inf")).amax(0)
        scores = self.score(torch.tanh(out)).masked_fill(~valid, float("-inf"))  # (T, B, 1)
        return (scores.softmax(0) * out).sum(0)


class ClassifierEnsemble(nn.Module):
    """``members`` independently initialised :class:`SequenceClassifier` s trained side by side on the same
    batches, each on its own loss; the ensemble's prediction averages their class probabilities:
    ``forward`` returns ``log(mean_m softmax(z_m))`` (B, C), usable as logits (softmax, argmax, cross-entropy
    all read it as the averaged distribution). Averaging runs that differ only in their initialisation and
    dropout masks is the cheapest reliable gain in accuracy and calibration for text classifiers.

    Example::

        >>> import torch
        >>> from lstmkit.tasks.classify import ClassifyConfig, ClassifierEnsemble
        >>> model = ClassifierEnsemble(2, ClassifyConfig(hidden=8, embed=4, members=3), vocab_size=20).eval()
        >>> x, lengths = torch.randint(1, 20, (7, 2)), torch.tensor([7, 3])
        >>> model.member_logits(x, lengths).shape, model(x, lengths).exp().sum(1)
        (torch.Size([3, 2, 2]), tensor([1.0000, 1.0000], grad_fn=<SumBackward1>))
    """

    def __init__(self, n_classes: int, cfg: ClassifyConfig, vocab_size: int = 0, features: int = 0,
                 n_chars: int = 0) -> None:
        super().__init__()
        self.members = nn.ModuleList(SequenceClassifier(n_classes, cfg, vocab_size, features, n_chars)
                                     for _ in range(cfg.members))
        self.n_classes = n_classes

    def member_logits(self, x: Tensor, lengths: Tensor) -> Tensor:
        """(M, B, C): each member's class scores."""
        return torch.stack([m(x, lengths) for m in self.members])

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        return combine(self.member_logits(x, lengths))                          # (B, C)


def combine(member_logits: Tensor) -> Tensor:
    """(M, N, C) members' scores -> (N, C) log of their averaged class probabilities."""
    return member_logits.log_softmax(2).logsumexp(0) - math.log(member_logits.shape[0])


def build_classifier(n_classes: int, cfg: ClassifyConfig, vocab_size: int = 0, features: int = 0,
                     n_chars: int = 0) -> nn.Module:
    """The model ``cfg`` describes: one :class:`SequenceClassifier`, or a :class:`ClassifierEnsemble` when
    ``cfg.members > 1``."""
    cls = ClassifierEnsemble if cfg.members > 1 else SequenceClassifier
    return cls(n_classes, cfg, vocab_size=vocab_size, features=features, n_chars=n_chars)
