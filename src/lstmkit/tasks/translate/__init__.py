"""Sequence to sequence with attention: ``lstmkit train translate``, ``lstmkit translate``, ``lstmkit eval``
of translate runs."""

from .adapter import inspect_adapter
from .cli import evaluate_run, register
from .config import TranslateConfig
from .corpus import Corpus, build_corpus
from .jobs import Translator, draw_alignments, load_translator, resume, scores_by_length, test_report, train
from .model import build_translator
from .task import TranslateTask, score_split

__all__ = ["TranslateConfig", "Corpus", "build_corpus", "Translator", "draw_alignments", "load_translator",
           "resume", "scores_by_length", "test_report", "train", "build_translator", "TranslateTask",
           "score_split", "evaluate_run", "register", "inspect_adapter"]
