"""Image captioning with attention: ``lstmkit train caption``, ``lstmkit caption``, ``lstmkit canvases`` and
``lstmkit eval`` of caption runs."""

from .cli import evaluate_run, register
from .config import CaptionConfig
from .data import CaptionData, DigitCanvases, UserImages, open_data
from .jobs import Captioner, draw_attention, load_captioner, resume, test_report, train
from .model import build_captioner, feature_grid
from .task import CaptionTask, digit_accuracy, score_split

__all__ = ["CaptionConfig", "CaptionData", "DigitCanvases", "UserImages", "open_data", "Captioner",
           "draw_attention", "load_captioner", "resume", "test_report", "train", "build_captioner", "feature_grid",
           "CaptionTask", "digit_accuracy", "score_split", "evaluate_run", "register"]
