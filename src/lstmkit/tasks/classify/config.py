"""Settings of ``lstmkit train classify``: the engine's (:class:`~lstmkit.train.TrainConfig`) plus the data,
the tokens, the pooling and the model. Every field is a command-line flag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ...train import TrainConfig, backend_opt, max_steps_opt, opt

__all__ = ["ClassifyConfig"]


@dataclass
class ClassifyConfig(TrainConfig):
    """Sequence classifier (many-to-one): tokens or numeric steps -> lstmkit recurrent stack -> pooling ->
    linear over the classes.

    Data (``--data``, and ``--dev`` or the last ``--dev-fraction``): CSV or JSONL with a text and a label
    column (``--text-column``, ``--label-column``); CSV whose other columns are the steps of a numeric
    sequence (trailing empty cells: a shorter sequence); ``.npy`` of shape (N, T) or (N, T, F) with the
    labels in ``--labels``; or a CoNLL-U file, each sentence labelled by its ``sent_id`` prefix (the genre
    of UD English EWT). With no ``--data`` it learns a generated task: noisy sine / square / sawtooth /
    triangle waves of random length, frequency and phase.

    Example::

        >>> from lstmkit.tasks.classify import ClassifyConfig
        >>> cfg = ClassifyConfig(data="reviews.csv", tokens="word", pooling="attention")
        >>> cfg.validate(); cfg.bidirectional
        True
    """

    task: ClassVar[str] = "classify"

    # ------------------------------------------------------------------ engine defaults for this job
    max_steps: int = max_steps_opt(600)
    lr: float = opt(3e-3, "peak learning rate of AdamW")
    warmup_steps: int = opt(30, "steps of linear learning-rate warm-up from 0")
    weight_decay: float = opt(0.01, "AdamW weight decay, on matrices only")
    eval_every: int = opt(100, "steps between evaluations on the dev set (and checkpoints)")
    log_every: int = opt(50, "steps between metrics lines")

    # ------------------------------------------------------------------ data
    data: str = opt("", "training data: .csv, .jsonl, .npy (with --labels) or .conllu (default: generated waves)")
    dev: str = opt("", "dev data in the same form (default: the last --dev-fraction of --data)")
    labels: str = opt("", ".npy of labels, one per sequence of a .npy --data")
    dev_labels: str = opt("", ".npy of labels for a .npy --dev")
    dev_fraction: float = opt(0.1, "without --dev: the fraction of --data held out (after a seeded shuffle)")
    text_column: str = opt("text", "CSV/TSV/JSONL: the column holding the text")
    label_column: str = opt("label", "CSV/TSV/JSONL: the column holding the label")
    tokens: str = opt("char", "text: read characters or whitespace-separated words", choices=("char", "word"))
    missing: str = opt("error", "rows with a missing or non-numeric value: error (name the line) or drop them",
                       choices=("error", "drop"))
    min_count: int = opt(1, "text: tokens seen fewer times in training read as <unk>")
    max_len: int = opt(400, "sequences longer than this are cut to their first max_len steps (0: never)")
    batch_size: int = opt(32, "sequences per batch (drawn from buckets of similar length)")
    eval_batch_size: int = opt(256, "sequences per batch when evaluating")
    class_weights: bool = opt(False, "weigh the loss by inverse class frequency (for imbalanced classes)")

    # ------------------------------------------------------------------ model
    cell: str = opt("lstm", "recurrent cell", choices=("lstm", "gru", "rnn"))
    embed: int = opt(64, "text: size of the token embedding")
    char_hidden: int = opt(0, "word tokens: also read each word's spelling with a character BiLSTM of this many "
                              "units per direction, joined to its embedding (0: off); unseen words keep their spelling")
    char_dim: int = opt(24, "with --char-hidden: size of the character embedding")
    hidden: int = opt(128, "hidden units per direction")
    layers: int = opt(1, "recurrent layers")
    bidirectional: bool = opt(True, "read each sequence in both directions")
    pooling: str = opt("attention", "sequence -> vector: last state, mean or max over steps, or attention",
                       choices=("last", "mean", "max", "attention"))
    dropout: float = opt(0.2, "dropout on the inputs, between layers and on the pooled vector")
    word_dropout: float = opt(0.0, "text: the chance that a training token reads as <unk> (regularises the "
                                   "embedding of frequent words, teaches the model unknown ones)")
    members: int = opt(1, "classifiers trained side by side on the same batches from their own initialisations; "
                          "predictions average their probabilities (an ensemble in one run)")
    backend: str = backend_opt()

    def validate(self) -> None:
        super().validate()
        for name in ("embed", "hidden", "layers", "batch_size", "eval_batch_size", "min_count", "members",
                     "char_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.char_hidden < 0:
            raise ValueError(f"char_hidden must be >= 0, got {self.char_hidden}")
        if self.char_hidden and self.tokens != "word":
            raise ValueError(f"--char-hidden spells each word of --tokens word; got --tokens {self.tokens} (characters "
                             f"are the tokens already): expected --char-hidden 0 or --tokens word")
        if self.max_len < 0:
            raise ValueError(f"max_len must be >= 0, got {self.max_len}")
        self.check_probabilities("dropout", "word_dropout")
        if not 0 < self.dev_fraction < 1:
            raise ValueError(f"dev_fraction must be in (0, 1), got {self.dev_fraction}")
        if (self.dev or self.labels) and not self.data:
            raise ValueError("--dev / --labels need --data (the default is generated)")
        for data, labels in (("data", "labels"), ("dev", "dev_labels")):
            path, given = getattr(self, data), getattr(self, labels)
            if given and not path.endswith(".npy"):
                raise ValueError(f"--{labels.replace('_', '-')} {given} labels a .npy --{data}; --{data} {path or '(none)'} "
                                 f"carries its own labels: expected no --{labels.replace('_', '-')} with it")
        self.refuse_together("dev", "dev_fraction", "the dev sequences come from --dev, none are held out")
