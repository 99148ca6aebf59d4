"""``lstmkit train caption``, ``lstmkit caption``, ``lstmkit canvases`` and the ``lstmkit eval`` evaluator of
caption runs."""

from __future__ import annotations

import argparse
import pathlib

import torch

from ...train import RunDir
from ...train.atomic import atomic_path, check_output, write_text
from ..evaluate import register_evaluator
from ..runs import add_train_command
from ..seq2seq_jobs import add_decoding_args, check_decoding_args
from .canvas import cell_masks, load_canvases, make_canvases, save_canvases
from .config import CaptionConfig
from .data import CaptionData, DigitCanvases, Split
from .images import load_image_captions
from .jobs import draw_attention, load_captioner, resume, test_report, train

TRAIN_HELP = """\
Image captioning with attention (Show, Attend and Tell): a small CNN trained from scratch turns the image
into a grid of feature vectors, an LSTM decoder writes the caption word by word while attending over the
grid. The default data are generated canvases of real handwritten digits (scikit-learn's bundled digits)
on a 3x3 grid, captioned with their spatial relations ("seven left of three , one below"); test canvases
use digit images never seen in training, and the attention is scored (the attention mass on the digit
being named). --images DIR --captions FILE trains on your own images (Flickr8k captions file or COCO
captions JSON). Scores land in RUN_DIR/test.json, attention over test images in RUN_DIR/attention/.
Needs: pip install 'lstmkit[seq2seq]'.
"""

TRAIN_EPILOG = """\
examples:
  lstmkit train caption --max-time 10m --out runs/digits
  lstmkit canvases --out canvases --count 8
  lstmkit caption runs/digits canvases/canvas-0.png canvases/canvas-1.png --attention pictures/
  lstmkit eval runs/digits --data canvases/canvases.npz
  lstmkit train caption --images Flicker8k_Dataset --captions Flickr8k.token.txt --max-time 2h --out runs/flickr
"""


def _caption(args: argparse.Namespace) -> None:
    check_decoding_args(args)
    captioner = load_captioner(args.run, args.checkpoint)
    images = captioner.read_images(args.images)
    out = captioner.caption(images, beam=args.beam, alpha=args.alpha, attention=bool(args.attention),
                            max_len=args.max_len)
    for path, cap in zip(args.images, out):
        print(f"{path}\t{cap['text']}")
    if args.attention:
        draw_attention(images, out, captioner.model.encoder.grid, pathlib.Path(args.attention),
                       names=args.images, count=len(out))


def _canvases(args: argparse.Namespace) -> None:
    cfg = CaptionConfig(rows=args.rows, cols=args.cols, min_digits=args.min_digits, max_digits=args.max_digits)
    cfg.validate()
    if args.count < 1:
        raise ValueError(f"--count must be >= 1, got {args.count}")
    folder = pathlib.Path(args.out)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--out {folder} is a file; expected a folder to write canvases into")
    folder.mkdir(parents=True, exist_ok=True)
    check_output(folder / "canvases.npz")
    from .images import need_pillow
    from ..ctc.lines import DigitPools
    pools = DigitPools.load()
    c = make_canvases(pools.images[args.split], pools.labels[args.split], args.count, cfg.canvas_spec(),
                      torch.Generator().manual_seed(args.seed))
    image = need_pillow()
    lines = []
    for k, (img, cap) in enumerate(zip(c.images, c.captions)):
        name = f"canvas-{k}.png"
        with atomic_path(folder / name) as tmp:
            image.fromarray((img[0].clamp(0, 1) * 255).round().byte().numpy(), mode="L").save(tmp, format="PNG")
        lines.append(f"{name}#0\t{cap}\n")
    write_text(folder / "captions.txt", "".join(lines))
    save_canvases(c, folder / "canvases.npz")
    print(f"wrote {args.count} canvases of the {args.split} pool to {folder} (PNG files, captions.txt, canvases.npz); "
          f"first: {c.captions[0]}")


def evaluate_run(run: RunDir, data: str, args: argparse.Namespace) -> dict:
    """The ``lstmkit eval`` evaluator of caption runs: ``--data`` is a ``.npz`` of canvases (``lstmkit
    canvases``) for digit runs, or a captions file (Flickr or COCO) whose images lie beside it."""
    cfg = run.config(CaptionConfig)
    captioner = load_captioner(run.path, getattr(args, "checkpoint", "auto"))
    if str(data).endswith(".npz"):
        split = DigitCanvases.from_canvases(load_canvases(data))
    else:
        loaded = load_image_captions(pathlib.Path(data).parent, data, captioner.image_shape[0], captioner.channels)
        split = Split(loaded.images, loaded.captions)
    if tuple(split.images.shape[1:]) != (captioner.channels, *captioner.image_shape):
        raise ValueError(f"{data}: images of shape {tuple(split.images.shape[1:])}; this run reads "
                         f"{(captioner.channels, *captioner.image_shape)}")
    holder = _EvalData(captioner, split, cfg)
    beam = getattr(args, "beam", None) or cfg.beam
    report = test_report(captioner.model, holder, "eval", beam, cfg.length_alpha)
    folder = pathlib.Path(getattr(args, "out", None) or run.path / "eval")
    draw_attention(split.images, report.pop("_captions"), captioner.model.encoder.grid, folder)
    b = report["beam_search"]
    print(f"{run.path} on {data}: {len(split)} images, beam {beam}")
    print(f"  exact {b['exact']:.4f}   BLEU-1..4 {b['bleu1']:.1f} {b['bleu2']:.1f} {b['bleu3']:.1f} {b['bleu4']:.1f}"
          f"   chrF {b['chrf']:.1f}")
    if "digit_accuracy" in b:
        print(f"  digit words {b['digit_accuracy']:.4f}")
    if "attention_score" in b:
        print(f"  attention on the named digit {b['attention_score']:.3f} (uniform {b['uniform_score']:.3f})")
    for ex in report["examples"][:5]:
        print(f"  {ex['beam']}  (want: {ex['reference']})")
    return {"images": len(split), "greedy": report["greedy"], "beam_search": b}


class _EvalData(CaptionData):
    """A loaded run's vocabulary and format around one split of evaluation images."""

    def __init__(self, captioner, split: Split, cfg: CaptionConfig) -> None:
        self.vocab, self.channels, self.image_shape = captioner.vocab, captioner.channels, captioner.image_shape
        self.max_len, self.splits = captioner.max_len, {"eval": split}
        self.spec = cfg.canvas_spec() if cfg.uses_digits() and split.cells is not None else None

    def masks(self, grid):
        return cell_masks(self.spec, *grid) if self.spec is not None else None


register_evaluator(CaptionConfig.task, evaluate_run)


def register(commands, train_commands) -> None:
    """Add ``lstmkit train caption``, ``lstmkit caption`` and ``lstmkit canvases`` to the command line.

    Example (train a tiny model on digit canvases, make canvases, caption one)::

        >>> import contextlib, io, tempfile
        >>> from lstmkit.cli import main
        >>> d = tempfile.mkdtemp()
        >>> with contextlib.redirect_stdout(io.StringIO()) as out:
        ...     code = main(["train", "caption", "--out", d + "/run", "--max-steps", "2", "--eval-every", "2",
        ...                  "--val-size", "4", "--test-size", "4", "--cnn-width", "4", "--decoder-hidden", "8",
        ...                  "--batch-size", "4"])
        ...     code2 = main(["canvases", "--out", d + "/c", "--count", "2"])
        ...     code3 = main(["caption", d + "/run", d + "/c/canvas-0.png", "--beam", "2"])
        >>> code, code2, code3, out.getvalue().count("canvas-0.png")
        (0, 0, 0, 1)
    """
    add_train_command(train_commands, CaptionConfig, train, resume,
                      "image captioning with attention (digit canvases, your own images)", TRAIN_HELP, TRAIN_EPILOG)
    c = commands.add_parser("caption", help="caption images with a trained caption run",
                            description="Caption image files with a trained caption run: one line per image, "
                                        "FILE<TAB>caption. --attention DIR draws where the model looked for each word.",
                            epilog="examples:\n  lstmkit caption runs/digits canvases/canvas-0.png\n"
                                   "  lstmkit caption runs/flickr photo.jpg --beam 8 --attention pictures/",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    add_decoding_args(c, "caption", "also draw each image's attention here")
    c.add_argument("images", metavar="IMAGE", nargs="+", help="image files (read as the run's training images were)")
    c.set_defaults(func=_caption)
    g = commands.add_parser("canvases", help="write digit canvases (PNG, captions, .npz) to try and evaluate caption runs",
                            description="Write canvases of held-out handwritten digits: canvas-K.png, captions.txt "
                                        "(Flickr form) and canvases.npz (for lstmkit eval).",
                            epilog="example:\n  lstmkit canvases --out canvases --count 8 --split test")
    g.add_argument("--out", metavar="DIR", required=True, help="folder to write into")
    g.add_argument("--count", type=int, default=8, help="canvases to write (default 8)")
    g.add_argument("--split", choices=("train", "val", "test"), default="test",
                   help="which pool of digit images to draw from (default test: never trained on)")
    g.add_argument("--seed", type=int, default=0)
    for name, default in (("rows", 3), ("cols", 3), ("min-digits", 2), ("max-digits", 4)):
        g.add_argument(f"--{name}", type=int, default=default, help=f"as lstmkit train caption's --{name} "
                                                                   f"(default {default})")
    g.set_defaults(func=_canvases)
