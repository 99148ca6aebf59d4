"""Settings of ``lstmkit train charlm``: the engine's (:class:`~lstmkit.train.TrainConfig`) plus the
text, the batching for truncated BPTT and the model. Every field is a command-line flag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

from ...train import TrainConfig, backend_opt, max_steps_opt, opt

__all__ = ["CharLMConfig", "CELL_OPTIONS"]

#: model options that only some cells have: option -> cells that accept it
CELL_OPTIONS = {"peephole": ("lstm",), "layer_norm": ("lstm",), "cifg": ("lstm",), "forget_bias": ("lstm",),
                "proj_size": ("lstm",), "zoneout_h": ("lstm",), "zoneout_c": ("lstm",),
                "zoneout": ("gru", "rnn"), "reset_before": ("gru",), "nonlinearity": ("rnn",)}


@dataclass
class CharLMConfig(TrainConfig):
    """Character-level language model: embedding -> lstmkit recurrent stack -> linear to the vocabulary.

    The defaults train on the default corpus (Python's documentation topics) in a few minutes on 2 CPU
    cores.

    Example::

        >>> from lstmkit.tasks.charlm import CharLMConfig
        >>> cfg = CharLMConfig(cell="gru", layers=1, hidden=64, max_steps=100)
        >>> cfg.validate(); cfg.bptt_len
        64
    """

    task: ClassVar[str] = "charlm"

    # ------------------------------------------------------------------ engine defaults for this job
    max_steps: int = max_steps_opt(1500)
    lr: float = opt(3e-3, "peak learning rate of AdamW")
    warmup_steps: int = opt(50, "steps of linear learning-rate warm-up from 0")
    eval_every: int = opt(250, "steps between evaluations on the held-out text (and samples, checkpoints)")

    # ------------------------------------------------------------------ data
    text: list[str] = opt([], "UTF-8 text file(s) to train on, concatenated (default: Python's "
                              "documentation topics, pydoc_data.topics, ~465k characters)")
    encoding: str = opt("utf-8", "encoding of the text files")
    errors: str = opt("strict", "on undecodable bytes: strict (stop, naming the byte offset), replace "
                                "(with U+FFFD) or ignore", choices=("strict", "replace", "ignore"))
    val_fraction: float = opt(0.1, "the last fraction of the text held out for validation")
    batch_size: int = opt(32, "B: parallel streams the text is cut into")
    seq_len: int = opt(64, "k1: characters per batch and stream; the state is carried (detached) across "
                           "batches")
    bptt: int = opt(0, "k2 >= k1: characters backpropagated through per batch (0: --seq-len); k2 > k1 "
                       "runs overlapping windows, each scoring its last k1 characters")
    eval_batch_size: int = opt(32, "parallel streams for evaluation")
    eval_chars: int = opt(0, "characters of the held-out text scored per evaluation (0: all)")
    sample_chars: int = opt(300, "characters sampled into samples/step-N.txt at each evaluation (0: none)")
    final_sample: int = opt(500, "characters printed from the best model when training ends (0: none)",
                            control=True)
    temperature: float = opt(0.8, "temperature of those samples")

    # ------------------------------------------------------------------ model
    cell: str = opt("lstm", "recurrent cell", choices=("lstm", "gru", "rnn"))
    layers: int = opt(2, "recurrent layers")
    hidden: int = opt(256, "hidden units per layer")
    embed: int = opt(64, "size of the character embedding")
    dropout: float = opt(0.0, "dropout between recurrent layers and before the output layer")
    input_dropout: float = opt(0.0, "variational dropout on each layer's input (one mask per sequence)")
    recurrent_dropout: float = opt(0.0, "variational dropout on h_{t-1} entering W_hh")
    peephole: bool = opt(False, "LSTM: peephole connections")
    layer_norm: bool = opt(False, "LSTM: layer normalisation of the gate pre-activations and the cell")
    cifg: bool = opt(False, "LSTM: coupled input-forget gate")
    forget_bias: Optional[float] = opt(None, "LSTM: initial forget-gate bias (none: torch.nn's init)")
    proj_size: int = opt(0, "LSTM: project h_t to this size (0: no projection)")
    zoneout_h: float = opt(0.0, "LSTM: zoneout probability of h")
    zoneout_c: float = opt(0.0, "LSTM: zoneout probability of c")
    zoneout: float = opt(0.0, "GRU/RNN: zoneout probability of h")
    reset_before: bool = opt(False, "GRU: Cho et al. 2014 form (reset gate before W_hh)")
    nonlinearity: str = opt("tanh", "RNN: tanh or relu", choices=("tanh", "relu"))
    backend: str = backend_opt()

    @property
    def bptt_len(self) -> int:
        """k2: the steps backpropagated through per batch."""
        return self.bptt or self.seq_len

    def validate(self) -> None:
        super().validate()
        for name in ("batch_size", "seq_len", "eval_batch_size", "layers", "hidden", "embed"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("eval_chars", "sample_chars", "final_sample", "proj_size", "bptt"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.bptt and self.bptt < self.seq_len:
            raise ValueError(f"bptt (k2) must be >= seq_len (k1) = {self.seq_len}, or 0; got {self.bptt}")
        self.check_probabilities("dropout", "input_dropout", "recurrent_dropout", "zoneout_h", "zoneout_c", "zoneout")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        defaults = type(self)()
        for name, cells in CELL_OPTIONS.items():
            if getattr(self, name) != getattr(defaults, name) and self.cell not in cells:
                raise ValueError(f"{name}={getattr(self, name)!r} applies to --cell {' or '.join(cells)}, "
                                 f"got --cell {self.cell}")
