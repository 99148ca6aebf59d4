"""The sequence classifier job: ``lstmkit train classify`` and ``lstmkit eval`` of classify runs."""

from ..evaluate import register_evaluator
from .cli import register
from .config import ClassifyConfig
from .data import Examples, generated_waves, read_examples
from .jobs import evaluate_run, load_classifier, resume, train
from .model import ClassifierEnsemble, SequenceClassifier, build_classifier
from .task import ClassifyTask, Encoder

register_evaluator(ClassifyConfig.task, evaluate_run, ensemble=True)

__all__ = ["ClassifyConfig", "ClassifyTask", "SequenceClassifier", "ClassifierEnsemble", "build_classifier", "Encoder", "Examples", "read_examples",
           "generated_waves", "train", "resume", "load_classifier", "evaluate_run", "register"]
