"""One module per job's ONNX export (charlm, tagger, classify, forecast, music, ctc), the pieces they share in
:mod:`~lstmkit.export.jobs.common`. :mod:`lstmkit.export.models` gathers them (``export_run``, ``save``): import
from there.
"""
