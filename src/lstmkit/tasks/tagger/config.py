"""Settings of ``lstmkit train tagger``: the engine's (:class:`~lstmkit.train.TrainConfig`) plus the data,
the batching, the regularisation and the model. Every field is a command-line flag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ...train import TrainConfig, backend_opt, max_steps_opt, opt
from .conllu_io import COLUMNS

__all__ = ["TaggerConfig"]


@dataclass
class TaggerConfig(TrainConfig):
    """Sequence tagger: word embedding + character BiLSTM word encoder -> BiLSTM stack -> per-word softmax.

    With no ``--train`` it trains on the two sentences of PyTorch's LSTMTagger example ("The dog ate the
    apple", "Everybody read that book") in seconds. The defaults are the recipe measured on UD English EWT.

    Example::

        >>> from lstmkit.tasks.tagger import TaggerConfig
        >>> cfg = TaggerConfig(train="train.conllu", dev="dev.conllu", column="xpos")
        >>> cfg.validate(); cfg.resolved_max_steps()
        20000
        >>> TaggerConfig().resolved_max_steps()        # the two-sentence demo
        150
    """

    auto_max_steps: ClassVar[bool] = True
    task: ClassVar[str] = "tagger"

    # ------------------------------------------------------------------ engine defaults for this job
    max_steps: int = max_steps_opt(0, "optimisation steps to run (0: 150 on the demo sentences, 20000 with --train)")
    lr: float = opt(6e-3, "peak learning rate of AdamW")
    warmup_steps: int = opt(50, "steps of linear learning-rate warm-up from 0")
    weight_decay: float = opt(1e-5, "AdamW weight decay, on matrices only")
    eval_every: int = opt(150, "steps between evaluations on the dev set (and checkpoints)")
    log_every: int = opt(100, "steps between metrics lines (train loss is averaged over them)")
    grad_clip: float = opt(5.0, "clip the global gradient norm to this (0: off)")

    # ------------------------------------------------------------------ data
    train: str = opt("", "CoNLL-U file to train on (default: the two-sentence LSTMTagger demo)")
    dev: str = opt("", "CoNLL-U file to evaluate on during training (default: the last --dev-fraction of --train;"
                       " the demo evaluates on its own two sentences)")
    dev_fraction: float = opt(0.1, "without --dev: the fraction of --train's sentences held out")
    column: str = opt("upos", "the CoNLL-U column to predict (upos, xpos, deprel, feats, lemma, ...)",
                      choices=COLUMNS[2:])
    aux_columns: list[str] = opt([], "other CoNLL-U columns learned jointly by extra output layers on the same "
                                     "BiLSTM (multi-task training, e.g. xpos feats); only --column is output")
    aux_weight: float = opt(1.0, "weight of each --aux-columns loss next to the --column loss")
    batch_size: int = opt(64, "sentences per batch (batches are drawn from buckets of similar length)")
    eval_batch_size: int = opt(256, "sentences per batch when evaluating")
    min_count: int = opt(2, "words seen fewer times in training share the <unk> embedding (the character "
                            "encoder still reads them)")
    lowercase: bool = opt(True, "the word embedding reads lowercased words (the character encoder sees case)")

    # ------------------------------------------------------------------ model
    word_dim: int = opt(100, "size of the word embedding (0: none, characters only)")
    char_dim: int = opt(50, "size of the character embedding")
    char_hidden: int = opt(64, "hidden units per direction of the character BiLSTM (0: no character encoder)")
    hidden: int = opt(200, "hidden units per direction of the sentence BiLSTM")
    layers: int = opt(2, "layers of the sentence BiLSTM")
    dropout: float = opt(0.33, "dropout on the word vectors, between layers and before the output layer")
    word_dropout: float = opt(0.2, "probability of reading a training word as <unk> in the word embedding "
                                   "(teaches the model to tag unseen words from their characters)")
    label_smoothing: float = opt(0.0, "mix each output layer's one-hot training target with the uniform one by this "
                                      "weight (torch's label_smoothing; evaluation scores the plain loss)")
    backend: str = backend_opt()

    def resolved_max_steps(self) -> int:
        """``max_steps``, with 0 resolved to its default for the data."""
        return self.max_steps or (20000 if self.train else 150)

    def validate(self) -> None:
        super().validate()
        for name in ("batch_size", "eval_batch_size", "char_dim", "hidden", "layers", "min_count"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("word_dim", "char_hidden"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not self.word_dim and not self.char_hidden:
            raise ValueError("word_dim and char_hidden are both 0; expected at least one word representation")
        self.check_probabilities("dropout", "word_dropout", "label_smoothing")
        for name in self.aux_columns:
            if name not in COLUMNS[2:] or name == self.column:
                raise ValueError(f"aux_columns must name CoNLL-U columns other than --column {self.column!r} "
                                 f"among {list(COLUMNS[2:])}, got {name!r}")
        if self.aux_columns and not self.train:
            raise ValueError(f"--aux-columns {' '.join(self.aux_columns)} needs --train (the demo sentences "
                             f"carry one column)")
        if len(set(self.aux_columns)) != len(self.aux_columns):
            raise ValueError(f"aux_columns must not repeat a column, got {self.aux_columns}")
        if not self.aux_weight > 0:
            raise ValueError(f"aux_weight must be > 0, got {self.aux_weight}")
        if not 0 < self.dev_fraction < 1:
            raise ValueError(f"dev_fraction must be in (0, 1), got {self.dev_fraction}")
        self.refuse_together("dev", "dev_fraction", "the dev sentences come from --dev, none are held out")
        if self.dev and not self.train:
            raise ValueError(f"--dev {self.dev} needs --train (the demo evaluates on its own sentences)")
