"""Look inside trained recurrent networks: record gates and memory (:mod:`.record`)."""

from .record import Recorder, recording

__all__ = ["Recorder", "recording"]
