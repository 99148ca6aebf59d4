"""Look inside trained recurrent networks: record gates and memory (:mod:`.record`), collect them over a text
(:mod:`.trace`), find the cells that track simple features and the saturated gates (:mod:`.analysis`), and
show them: an interactive page (:mod:`.page`) and PNG heatmaps (:mod:`.heatmaps`)."""

from .analysis import correlations, saturation, text_features
from .heatmaps import write_heatmaps
from .page import render_page, write_page
from .record import Recorder, recording
from .trace import Trace, View, trace, trace_layer

__all__ = ["Recorder", "recording", "Trace", "View", "trace", "trace_layer", "text_features", "correlations",
           "saturation", "render_page", "write_page", "write_heatmaps"]
