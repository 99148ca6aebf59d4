"""The sequence tagger job: ``lstmkit train tagger``, ``lstmkit tag``, ``lstmkit eval`` of tagger runs,
and the shared CoNLL-U reader (:func:`read_conllu`)."""

from ..evaluate import register_evaluator
from .adapter import inspect_adapter
from .cli import register
from .config import TaggerConfig
from .conllu_io import ConlluError, Sentence, parse_conllu, read_conllu
from .jobs import evaluate_run, load_tagger, load_taggers, resume, tag_probabilities, tag_sentences, train
from .model import Tagger
from .task import TaggerTask
from .vocab import TaggerVocab

register_evaluator(TaggerConfig.task, evaluate_run, ensemble=True)

__all__ = ["TaggerConfig", "TaggerTask", "Tagger", "TaggerVocab", "Sentence", "ConlluError", "read_conllu",
           "parse_conllu", "train", "resume", "load_tagger", "load_taggers", "tag_probabilities", "tag_sentences",
           "evaluate_run", "inspect_adapter",
           "register"]
