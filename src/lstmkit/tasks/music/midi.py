"""MIDI in and out (pretty_midi): files to 88-key piano-rolls, and a roll back to a MIDI file.

Reading: every non-drum note of every instrument, sampled on a grid of ``frames_per_beat`` frames per
beat of the file's own tempo map (or ``fs`` frames per second), binarised, pitches 21..108 (A0..C8) kept;
leading silence is dropped. Splitting a folder: the files sorted by their path below the folder, file k
(from 0) goes to test when k % 10 == 9, to valid when k % 10 == 8, else to train; with fewer than 10 files
the last one is the test piece and the one before it the valid piece; with fewer than 3 files each file is
cut in time, its first 80% frames to train, the next 10% to valid, the last 10% to test.
"""

from __future__ import annotations

import pathlib

import numpy as np
import torch

from ...train.atomic import atomic_path
from .rolls import A0, KEYS, Rolls, lowest_pitch

__all__ = ["read_midi_roll", "read_midi_rolls", "midi_files", "split_files", "write_midi"]


def _pretty_midi():
    try:
        import pretty_midi
    except ImportError:
        raise ImportError("MIDI files need pretty_midi: pip install 'lstmkit[music]'") from None
    return pretty_midi


def read_midi_roll(path: str | pathlib.Path, frames_per_beat: int = 2, fs: float = 0.0) -> torch.Tensor:
    """One MIDI file as a ``(T, 88)`` uint8 piano-roll; an unreadable file raises ValueError naming it and
    the reason."""
    pretty_midi = _pretty_midi()
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; expected a MIDI file")
    try:
        pm = pretty_midi.PrettyMIDI(str(path))
        end = pm.get_end_time()
        if fs > 0:
            times = np.arange(0.0, end, 1.0 / fs)
        else:
            beats = pm.get_beats()
            if len(beats) < 2:
                beats = np.array([0.0, 0.5])                  # one beat: assume 120 bpm
            step = np.diff(beats)
            while beats[-1] < end:                            # the tempo map ends: keep its last beat length
                beats = np.append(beats, beats[-1] + step[-1])
            times = (beats[:-1, None] + np.diff(beats)[:, None] * np.arange(frames_per_beat) / frames_per_beat)
            times = times.reshape(-1)
            times = times[times < end]
        # pretty_midi averages each column over [times[n], times[n + 1]): one more edge keeps the last frame
        roll = pm.get_piano_roll(times=np.append(times, end))[:, :-1] if len(times) else np.zeros((128, 0))
    except Exception as e:                                    # mido/pretty_midi raise many kinds on bad bytes
        raise ValueError(f"{path} is not a readable MIDI file ({type(e).__name__}: {str(e)[:200]})") from None
    roll = (roll[A0:A0 + KEYS].T > 0).astype(np.uint8)                     # (T, 88)
    sounding = np.nonzero(roll.any(1))[0]
    if len(sounding) == 0:
        raise ValueError(f"{path} holds no note in the piano's range (MIDI pitches 21-108); expected at least one")
    return torch.from_numpy(roll[sounding[0]:])


def midi_files(path: str | pathlib.Path) -> list[pathlib.Path]:
    """The MIDI file ``path``, or every .mid/.midi file below the folder ``path``, sorted by path."""
    path = pathlib.Path(path)
    if path.is_file():
        return [path]
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; expected a MIDI file or a folder of them")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in (".mid", ".midi"))
    if not files:
        raise ValueError(f"{path} holds no .mid or .midi file; expected a folder of MIDI files")
    return files


def split_files(n: int) -> list[str]:
    """The split ("train", "valid" or "test") of each of ``n`` files sorted by path (module docstring).

    Example::

        >>> from lstmkit.tasks.music.midi import split_files
        >>> split_files(4), split_files(12)[7:]
        (['train', 'train', 'valid', 'test'], ['train', 'valid', 'test', 'train', 'train'])
    """
    if n < 3:
        return ["time"] * n
    if n < 10:
        return ["train"] * (n - 2) + ["valid", "test"]
    return ["test" if k % 10 == 9 else "valid" if k % 10 == 8 else "train" for k in range(n)]


def read_midi_rolls(path: str | pathlib.Path, frames_per_beat: int = 2, fs: float = 0.0) -> Rolls:
    """A MIDI file or folder as train/valid/test rolls, split as the module docstring says."""
    files = midi_files(path)
    rolls = [read_midi_roll(f, frames_per_beat, fs) for f in files]
    out: dict[str, list] = {"train": [], "valid": [], "test": []}
    for roll, where, f in zip(rolls, split_files(len(files)), files):
        if where != "time":
            out[where].append(roll)
            continue
        T = roll.shape[0]
        a, b = int(T * 0.8), int(T * 0.9)
        if T < 20:
            raise ValueError(f"{f} is {T} frames long; a file split in time (fewer than 3 files) needs at least 20 "
                             f"frames, expected a longer piece, more files or a higher --frames-per-beat")
        out["train"].append(roll[:a]), out["valid"].append(roll[a:b]), out["test"].append(roll[b:])
    seconds = 1.0 / fs if fs > 0 else 0.5 / frames_per_beat
    return Rolls(out["train"], out["valid"], out["test"], source=str(path), frame_seconds=seconds)


def write_midi(roll: torch.Tensor, path: str | pathlib.Path, frame_seconds: float = 0.25, velocity: int = 80,
               program: int = 0) -> None:
    """Write a ``(T, K)`` 0/1 roll as a one-instrument MIDI file (a key held over consecutive frames is one
    note), atomically: ``path`` is complete or untouched. Key k is MIDI pitch ``lowest_pitch(K) + k``."""
    pretty_midi = _pretty_midi()
    roll = torch.as_tensor(roll).to(torch.uint8).cpu().numpy()
    pm = pretty_midi.PrettyMIDI(initial_tempo=60.0 / (frame_seconds * 2))
    inst = pretty_midi.Instrument(program=program, name="lstmkit")
    base = lowest_pitch(roll.shape[1])
    padded = np.vstack([np.zeros((1, roll.shape[1]), np.uint8), roll, np.zeros((1, roll.shape[1]), np.uint8)])
    change = np.diff(padded.astype(np.int8), axis=0)                        # (T + 1, K): +1 on, -1 off
    for key in range(roll.shape[1]):
        on, off = np.nonzero(change[:, key] == 1)[0], np.nonzero(change[:, key] == -1)[0]
        for a, b in zip(on, off):
            inst.notes.append(pretty_midi.Note(velocity=velocity, pitch=int(base + key),
                                               start=float(a * frame_seconds), end=float(b * frame_seconds)))
    pm.instruments.append(inst)
    with atomic_path(path) as tmp:
        pm.write(str(tmp))
