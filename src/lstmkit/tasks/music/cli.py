"""``lstmkit train music``, music runs in ``lstmkit sample`` (MIDI out) and in ``lstmkit eval``."""

from __future__ import annotations

from ..evaluate import register_evaluator
from ..runs import add_train_command
from ..sampling import register_sampler
from .config import MusicConfig
from .jobs import evaluate_run, resume, sample_run, train

TRAIN_HELP = """\
Train a polyphonic music model: each frame of a piano-roll (88 keys, on/off) goes into a recurrent network,
which gives every key's probability of sounding in the next frame. The score is the negative log-likelihood
per frame (nats, summed over the 88 keys, averaged over every predicted frame of a split), as published for
JSB Chorales, Nottingham, MuseData and Piano-midi.de. --data takes those .mat files, a MIDI file or a folder
of MIDI files; with none, it trains on synthetic four-voice chorales generated on the spot. A run is a
folder (--out): config.json, metrics.jsonl, loss.png, checkpoints/ (last and best by validation NLL),
results.json (the best checkpoint's validation and test NLL), samples/final.mid and pianoroll.png.
Ctrl-C saves; --resume continues exactly.
"""

TRAIN_EPILOG = """\
examples:
  lstmkit train music --max-steps 300
  lstmkit train music --data JSB_Chorales.mat --max-time 30m --out runs/jsb
  lstmkit train music --data JSB_Chorales.mat --cell gru --hidden 46 --layers 1 --out runs/jsb-gru
  lstmkit train music --data midi_folder/ --frames-per-beat 4 --transpose 6
  lstmkit sample runs/jsb --midi new.mid --length 200 --seed 1
  lstmkit eval runs/jsb --data Nottingham.mat
"""


def register(commands, train_commands) -> None:
    """Add ``lstmkit train music``, and the music flags of ``lstmkit sample`` (registered by charlm).

    Example (a short run on the synthetic chorales, then a MIDI sample)::

        >>> import contextlib, io, os, tempfile
        >>> from lstmkit.cli import main
        >>> run = tempfile.mkdtemp() + "/run"
        >>> with contextlib.redirect_stdout(io.StringIO()) as out:
        ...     code = main(["train", "music", "--out", run, "--max-steps", "20", "--eval-every", "10",
        ...                  "--hidden", "16", "--layers", "1", "--final-sample", "16"])
        >>> code, "test NLL" in out.getvalue()
        (0, True)
        >>> with contextlib.redirect_stdout(io.StringIO()) as out:
        ...     code = main(["sample", run, "--midi", run + "/new.mid", "--length", "32", "--seed", "1"])
        >>> code, os.path.exists(run + "/new.mid"), os.path.exists(run + "/new.png")
        (0, True, True)
    """
    add_train_command(train_commands, MusicConfig, train, resume, "polyphonic music (piano-roll next-frame model)",
                      TRAIN_HELP, TRAIN_EPILOG)
    sample = commands.choices.get("sample")
    if sample is not None:
        g = sample.add_argument_group("music runs", "a music run writes a MIDI file and a piano-roll PNG beside it; "
                                                    "--temperature divides each key's logit (default 1.0), "
                                                    "--length counts frames")
        g.add_argument("--midi", metavar="FILE.mid", help="MIDI file to write (default: RUN_DIR/samples/sample.mid)")
        g.add_argument("--prime-frames", type=int, default=None, metavar="N",
                       help="start from the first N frames of a test sequence of the data (default 16; 0: from "
                            "silence)")
        g.add_argument("--data", metavar="FILE", default=None,
                       help="where the prime comes from: .mat, MIDI file or folder (default: the run's --data)")
        g.add_argument("--piece", type=int, default=0, metavar="K", help="the test sequence to prime with (default 0)")
    register_sampler(MusicConfig.task, sample_run)


register_evaluator(MusicConfig.task, evaluate_run)
