"""``lstmkit inspect RUN_DIR --text "..." --out PAGE.html``: the interactive page and heatmaps of any run.

The run's ``config.json`` names its task; the task's package ``lstmkit.tasks.<task>`` provides
``inspect_adapter(run_dir, text, checkpoint="auto") -> dict`` with

* ``"model"``: the loaded model (eval mode);
* ``"tokens"``: list[str], length T: what each step of the shown layers reads;
* ``"run"``: a zero-argument callable running the model once over the text (batch 1, no grad);
* ``"layers"``: qualified names (``model.named_modules()``) of the lstmkit layers aligned with ``tokens``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pathlib
from typing import Callable, Optional, Sequence

from torch import nn

from ..inspect import Trace, render_page, trace, write_heatmaps
from ..layers import RecurrentBase
from ..train import RunDir
from ..train.atomic import write_text

__all__ = ["find_adapter", "adapter_trace", "inspect_run", "register"]


def find_adapter(task: str) -> Callable[..., dict]:
    """The ``inspect_adapter`` of ``lstmkit.tasks.<task>``; ValueError when the task has none."""
    module = f"lstmkit.tasks.{task}"
    try:
        pkg = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name is not None and module.startswith(e.name):
            raise ValueError(f"the run's task {task!r} has no package {module}; expected a task of lstmkit") from None
        raise
    fn = getattr(pkg, "inspect_adapter", None)
    if not callable(fn):
        raise ValueError(f"lstmkit inspect needs {module}.inspect_adapter(run_dir, text, checkpoint) -> dict; "
                         f"task {task!r} does not define one")
    return fn


def _check(result, task: str) -> None:
    """The adapter's answer has the protocol's keys and types."""
    want = {"model", "tokens", "run", "layers"}
    if not isinstance(result, dict) or not want <= set(result):
        got = sorted(result) if isinstance(result, dict) else type(result).__name__
        raise TypeError(f"{task} inspect_adapter must return a dict with keys {sorted(want)}, got {got}")
    model, tokens, run, layers = (result[k] for k in ("model", "tokens", "run", "layers"))
    if not isinstance(model, nn.Module):
        raise TypeError(f"{task} inspect_adapter 'model' must be an nn.Module, got {type(model).__name__}")
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise TypeError(f"{task} inspect_adapter 'tokens' must be a list of str, got {type(tokens).__name__}")
    if not callable(run):
        raise TypeError(f"{task} inspect_adapter 'run' must be callable, got {type(run).__name__}")
    if not isinstance(layers, list) or not layers:
        raise TypeError(f"{task} inspect_adapter 'layers' must be a non-empty list of module names, got {layers!r}")
    modules = dict(model.named_modules())
    bad = [n for n in layers if not isinstance(modules.get(n), RecurrentBase)]
    if bad:
        known = [n for n, m in modules.items() if isinstance(m, RecurrentBase)]
        raise TypeError(f"{task} inspect_adapter 'layers' must name lstmkit layers of the model ({known}), got {bad}")


def adapter_trace(run_dir: str | os.PathLike, text: str, checkpoint: str = "auto") -> Trace:
    """The trace of ``text`` read by the run in ``run_dir``, through its task's adapter (checked against the
    protocol above)."""
    run = RunDir.open(run_dir)
    result = find_adapter(run.task)(run.path, text, checkpoint)
    _check(result, run.task)
    return trace(result["model"], result["run"], result["tokens"], layers=result["layers"])


def _keep(tr: Trace, quantities: Optional[Sequence[str]]) -> Trace:
    """The trace with only ``quantities`` (None: all); a name no view has is refused."""
    if quantities is None:
        return tr
    known = sorted({q for v in tr.views for q in v.quantities})
    bad = [q for q in quantities if q not in known]
    if bad or not quantities:
        raise ValueError(f"--quantities must be names among {','.join(known)} for this run, got {','.join(quantities)}")
    for v in tr.views:
        v.quantities = {q: a for q, a in v.quantities.items() if q in quantities} or v.quantities
    return tr


def inspect_run(run_dir: str | os.PathLike, text: str, out: Optional[str | os.PathLike] = None,
                png_dir: Optional[str | os.PathLike] = None, checkpoint: str = "auto", heatmaps: bool = True,
                top: int = 5, quantities: Optional[Sequence[str]] = None) -> dict:
    """Write the page (default ``RUN_DIR/inspect/inspect.html``) and the heatmaps (default: beside the page,
    named after it); everything is computed before anything is written. ``quantities`` keeps only those
    (a view that has none of them keeps its own, e.g. an RNN's h). Returns {"page", "pngs", "trace"}."""
    if top < 1:
        raise ValueError(f"--top must be at least 1, got {top}")
    out = pathlib.Path(out) if out is not None else pathlib.Path(run_dir) / "inspect" / "inspect.html"
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder; expected the path of the HTML page to write")
    tr = _keep(adapter_trace(run_dir, text, checkpoint), quantities)
    page = render_page(tr, f"lstmkit inspect: {pathlib.Path(run_dir).name}", top)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, page)
    pngs = write_heatmaps(tr, png_dir if png_dir is not None else out.parent, prefix=out.stem) if heatmaps else []
    return {"page": out, "pngs": pngs, "trace": tr}


def _read_text(args: argparse.Namespace) -> str:
    if (args.text is None) == (args.text_file is None):
        raise ValueError("expected exactly one of --text TEXT or --text-file FILE")
    if args.text is not None:
        return args.text.replace("\\n", "\n").replace("\\t", "\t") if args.escapes else args.text
    path = pathlib.Path(args.text_file)
    if not path.is_file():
        raise ValueError(f"--text-file {path} is not a file")
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"--text-file {path}: byte {data[e.start]:#04x} at offset {e.start} is not UTF-8; "
                         f"expected a UTF-8 text") from None


def _inspect(args: argparse.Namespace) -> None:
    from ..train.atomic import check_output
    quantities = None
    if args.quantities is not None:
        quantities = [q.strip() for q in args.quantities.split(",") if q.strip()]
        if not quantities:
            raise ValueError(f"--quantities {args.quantities!r} names none; expected a comma-separated list such "
                             f"as c,h,f")
    if args.png_dir and args.no_png:
        raise ValueError(f"--png-dir {args.png_dir} has no effect with --no-png (no heatmap is written); "
                         f"expected one of the two")
    if args.png_dir and pathlib.Path(args.png_dir).exists() and not pathlib.Path(args.png_dir).is_dir():
        raise ValueError(f"--png-dir {args.png_dir} is a file; expected a folder (new or existing)")
    if args.out:
        check_output(args.out, inputs=(args.text_file,), makes_folder=True)
    res = inspect_run(args.run, _read_text(args), args.out, args.png_dir, args.checkpoint, not args.no_png, args.top,
                      quantities)
    tr = res["trace"]
    print(f"{len(tr.tokens)} tokens, {len(tr.views)} layer-direction(s): {', '.join(v.label for v in tr.views)}")
    print(f"page: {res['page']}")
    if res["pngs"]:
        print(f"{len(res['pngs'])} heatmaps in {res['pngs'][0].parent}")


def register(commands, train_commands) -> None:
    """Add ``lstmkit inspect`` to the command line.

    Example::

        >>> import contextlib, io, tempfile
        >>> from lstmkit.cli import main
        >>> from lstmkit.tasks.charlm import CharLMConfig, train
        >>> cfg = CharLMConfig(max_steps=2, hidden=8, embed=4, layers=1, batch_size=2, seq_len=8,
        ...                    eval_every=2, eval_chars=200, sample_chars=0, final_sample=0)
        >>> run = str(train(cfg, tempfile.mkdtemp() + "/run", stream=open("/dev/null", "w")).run)
        >>> with contextlib.redirect_stdout(io.StringIO()) as out:
        ...     code = main(["inspect", run, "--text", 'print("hi")', "--out", run + "/page.html", "--no-png"])
        >>> code, out.getvalue().splitlines()[0]
        (0, '11 tokens, 1 layer-direction(s): rnn layer 0 forward')
    """
    p = commands.add_parser(
        "inspect", help="look inside a trained run: an interactive page of its cells and gates, PNG heatmaps",
        description="Run a trained model (charlm, tagger, ...) over a text and write a self-contained HTML page "
                    "where each token is coloured by a chosen cell's value (c, h or any gate, per layer and "
                    "direction), with the cells most correlated with simple text features (inside quotes, "
                    "position in line, indentation, inside brackets) and the most saturated gates; plus PNG "
                    "heatmaps (steps x units) of every gate and state.",
        epilog='example: lstmkit inspect runs/charlm-20260101-120000 --text "def f(x):\\n    return (x)" '
               '--escapes --out page.html', formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", metavar="RUN_DIR", help="a run folder made by lstmkit train <task>")
    p.add_argument("--text", help="the text to read")
    p.add_argument("--text-file", metavar="FILE", help="read the text from this UTF-8 file instead")
    p.add_argument("--escapes", action="store_true", help="read \\n and \\t in --text as a newline and a tab")
    p.add_argument("--out", metavar="PAGE.html", default=None,
                   help="the page to write (default: RUN_DIR/inspect/inspect.html)")
    p.add_argument("--png-dir", metavar="DIR", default=None, help="where the heatmaps go (default: beside --out)")
    p.add_argument("--no-png", action="store_true", help="write the page only")
    p.add_argument("--checkpoint", choices=("auto", "best", "last"), default="auto",
                   help="which checkpoint (default: auto = best if there is one, else last)")
    p.add_argument("--quantities", metavar="Q,Q", default=None,
                   help="keep only these (e.g. c,h,f; default: all: LSTM c,h,i,f,g,o; GRU h,r,z,n; RNN h); the page "
                        "holds every value of every kept quantity (about 4 bytes x steps x cells each), so fewer "
                        "make a smaller page")
    p.add_argument("--top", type=int, default=5, help="cells listed per feature in the panel (default: 5)")
    p.set_defaults(func=_inspect)
