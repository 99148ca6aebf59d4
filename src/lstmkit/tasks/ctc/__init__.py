"""Temporal labelling with CTC: ``lstmkit train ctc``, ``lstmkit ctc-lines``, ``lstmkit eval`` of ctc runs."""

from .cli import evaluate_run, register
from .config import CTCConfig
from .decode import beam_search, cer, edit_distance, greedy_decode
from .jobs import load_model, resume, test_report, train
from .lines import DigitPools, Lines, LineSpec, load_lines, make_lines, save_lines
from .model import CTCModel
from .task import CTCTask, ctc_loss, decode_lines, score_lines

__all__ = ["CTCConfig", "CTCModel", "CTCTask", "DigitPools", "Lines", "LineSpec", "beam_search", "cer",
           "edit_distance", "greedy_decode", "load_model", "resume", "test_report", "train", "load_lines",
           "make_lines", "save_lines", "ctc_loss", "decode_lines", "score_lines", "evaluate_run", "register"]
