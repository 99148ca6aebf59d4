"""The polyphonic music job: ``lstmkit train music`` (next-frame prediction of piano-rolls), and music runs
in ``lstmkit sample`` (MIDI out) and ``lstmkit eval`` (NLL per frame on a .mat file or MIDI)."""

from .cli import register
from .config import MusicConfig
from .jobs import evaluate_run, generate, load_model, resume, sample_run, train
from .model import MusicRNN, frame_nll, sample_roll
from .rolls import Rolls, load_rolls, read_mat, synthetic_chorales
from .task import MusicTask, split_nll

__all__ = ["MusicConfig", "MusicRNN", "MusicTask", "Rolls", "frame_nll", "sample_roll", "split_nll", "load_rolls",
           "read_mat", "synthetic_chorales", "register", "train", "resume", "load_model", "generate", "sample_run",
           "evaluate_run"]
