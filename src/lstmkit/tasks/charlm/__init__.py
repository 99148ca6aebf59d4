"""The character-level language model job: ``lstmkit train charlm`` and ``lstmkit sample``."""

from .adapter import inspect_adapter
from .cli import register
from .config import CharLMConfig
from .jobs import load_model, resume, sample_text, train
from .model import CharLM
from .stream import TextStreams
from .task import CharLMTask
from .text import default_corpus, load_texts, read_text
from .vocab import Vocab

__all__ = ["CharLMConfig", "CharLM", "CharLMTask", "TextStreams", "Vocab", "train", "resume", "load_model",
           "sample_text", "default_corpus", "load_texts", "read_text", "register", "inspect_adapter"]
