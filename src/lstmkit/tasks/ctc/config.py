"""Settings of ``lstmkit train ctc``: the engine's (:class:`~lstmkit.train.TrainConfig`) plus the digit
lines and the model. Every field is a command-line flag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ...train import TrainConfig, backend_opt, max_steps_opt, opt
from .lines import LineSpec

__all__ = ["CTCConfig"]


@dataclass
class CTCConfig(TrainConfig):
    """Temporal labelling with CTC: columns of a digit line -> BiLSTM -> per-step label scores -> CTC loss.

    The defaults reach a low character error rate on held-out lines in a few minutes on 2 CPU cores.

    Example::

        >>> from lstmkit.tasks.ctc import CTCConfig
        >>> cfg = CTCConfig(hidden=32, max_steps=100)
        >>> cfg.validate(); cfg.line_spec().max_digits
        6
    """

    task: ClassVar[str] = "ctc"

    # ------------------------------------------------------------------ engine defaults for this job
    max_steps: int = max_steps_opt(3000)
    lr: float = opt(3e-3, "peak learning rate of AdamW")
    weight_decay: float = opt(0.01, "AdamW weight decay, on matrices only (not biases, gains)")
    eval_every: int = opt(250, "steps between evaluations on the validation lines (and checkpoints)")

    # ------------------------------------------------------------------ data
    batch_size: int = opt(32, "lines per training batch (drawn afresh every step)")
    min_digits: int = opt(3, "fewest digits on a line")
    max_digits: int = opt(6, "most digits on a line")
    min_gap: int = opt(0, "narrowest gap between digits, in columns")
    max_gap: int = opt(4, "widest gap between digits, in columns")
    noise: float = opt(0.1, "standard deviation of the Gaussian noise on the pixels (ink is 0..1)")
    val_lines: int = opt(500, "validation lines, made of the validation pool's digit images")
    test_lines: int = opt(1000, "test lines (test pool) scored with the best checkpoint when training ends "
                                "(0: none)", control=True)
    beam: int = opt(8, "beam width of the prefix beam search used for the test score (1..)")

    # ------------------------------------------------------------------ model
    cell: str = opt("lstm", "recurrent cell", choices=("lstm", "gru", "rnn"))
    layers: int = opt(2, "bidirectional recurrent layers")
    hidden: int = opt(64, "hidden units per direction")
    dropout: float = opt(0.1, "dropout between layers and before the output layer")
    backend: str = backend_opt()

    def line_spec(self) -> LineSpec:
        return LineSpec(self.min_digits, self.max_digits, self.min_gap, self.max_gap, self.noise)

    def validate(self) -> None:
        super().validate()
        for name in ("batch_size", "val_lines", "layers", "hidden", "beam"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.test_lines < 0:
            raise ValueError(f"test_lines must be >= 0, got {self.test_lines}")
        self.check_probabilities("dropout")
        self.line_spec().validate()
