"""The music job's data and metric: .mat files in the published structure, MIDI in and out, the split rule,
the frame NLL against a hand computation, and the messages for bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

pytest.importorskip("scipy", reason="the music job reads .mat files with scipy: pip install 'lstmkit[music]'")
import scipy.io  # noqa: E402

from helpers import needs_shared  # noqa: E402
from lstmkit.tasks.music import MusicConfig, MusicRNN, frame_nll, read_mat, split_nll, synthetic_chorales  # noqa: E402
from lstmkit.tasks.music.rolls import load_rolls  # noqa: E402
from lstmkit.tasks.music.task import MusicTask, pad_batch  # noqa: E402


def cells(rolls):
    """A 1 x N MATLAB cell array, as scipy.io.loadmat returns the published files' (and savemat writes)."""
    out = np.empty((1, len(rolls)), dtype=object)
    for i, r in enumerate(rolls):
        out[0, i] = r
    return out


def random_rolls(n, width=88, seed=0, lengths=(5, 30)):
    rng = np.random.default_rng(seed)
    return [(rng.random((int(rng.integers(*lengths)), width)) < 0.05).astype(np.uint8) for _ in range(n)]


def write_mat(path, train, valid, test, **extra):
    scipy.io.savemat(str(path), {"traindata": cells(train), "validdata": cells(valid), "testdata": cells(test),
                                 **extra})
    return path


def test_mat_round_trip_in_the_published_structure(tmp_path):
    train, valid, test = random_rolls(6, seed=1), random_rolls(3, seed=2), random_rolls(4, seed=3)
    train.append(np.zeros((1, 88), np.uint8))                          # one frame: nothing to predict, dropped
    path = write_mat(tmp_path / "set.mat", train, valid, test)
    rolls = read_mat(path)
    assert rolls.width == 88 and [len(rolls.train), len(rolls.valid), len(rolls.test)] == [6, 3, 4]
    for got, want in zip(rolls.train, train[:6]):
        assert got.dtype == torch.uint8 and torch.equal(got, torch.from_numpy(want))
    assert rolls.source == str(path)


def test_mat_errors_name_what_is_there_and_what_is_needed(tmp_path):
    path = tmp_path / "wrong.mat"
    scipy.io.savemat(str(path), {"train": cells(random_rolls(2)), "X": np.zeros(3)})
    with pytest.raises(ValueError, match=r"holds X, train; expected traindata, validdata and testdata .* missing "
                                         r"traindata, validdata, testdata"):
        read_mat(path)
    narrow = write_mat(tmp_path / "narrow.mat", random_rolls(2), random_rolls(2, width=87), random_rolls(2))
    with pytest.raises(ValueError, match=r"validdata\[0\] is \d+ x 87; expected 88 keys per frame"):
        read_mat(narrow)
    ok = write_mat(tmp_path / "ok.mat", random_rolls(2), random_rolls(2), random_rolls(2))
    with pytest.raises(ValueError, match=r"traindata\[0\] is \d+ x 88; expected 64 keys per frame .* got 88"):
        read_mat(ok, width=64)
    junk = tmp_path / "junk.mat"
    junk.write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(ValueError, match="junk.mat is not a readable .mat file"):
        read_mat(junk)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_mat(tmp_path / "missing.mat")


def test_the_frame_nll_is_the_published_sum_over_frames_over_frames(tmp_path):
    """-sum_k [y log p + (1-y) log(1-p)] per frame, summed over every frame of the split, divided by the
    frames: a 3-frame and a 1-frame sequence weigh 3:1, not 1:1 as a mean of per-sequence means would."""
    torch.manual_seed(0)
    logits = torch.randn(3, 2, 4)
    y = (torch.rand(3, 2, 4) < 0.5).float()
    lengths = torch.tensor([3, 1])
    p = torch.sigmoid(logits).double()
    hand = 0.0
    for b, n in enumerate(lengths.tolist()):
        for t in range(n):
            hand -= sum(y[t, b, k].item() * math.log(p[t, b, k]) + (1 - y[t, b, k].item()) * math.log(1 - p[t, b, k])
                        for k in range(4))
    total, frames = frame_nll(logits, y, lengths)
    assert frames == 4
    assert total.item() == pytest.approx(hand, rel=1e-5)
    per_sequence_means = (total.item() / 4) != pytest.approx(hand / 2)
    assert per_sequence_means


def test_split_nll_counts_each_predicted_frame_once():
    """split_nll over sequences of different lengths (batched by length, padded) equals the frame-by-frame
    sum of a model run on each sequence alone, divided by the predicted frames."""
    rolls = [torch.from_numpy(r) for r in random_rolls(5, seed=4)]
    model = MusicRNN(88, MusicConfig(hidden=8, layers=1, dropout=0.0, input_dropout=0.0)).eval()
    nll, frames = split_nll(model, rolls, batch_size=2)
    total = 0.0
    for r in rolls:
        x, y, lengths = pad_batch([r])
        logits, _ = model(x)
        total += frame_nll(logits, y)[0].item()
    assert frames == sum(len(r) - 1 for r in rolls)
    assert nll == pytest.approx(total / frames, rel=1e-5)


def test_synthetic_chorales_are_fixed_four_voice_rolls():
    a, b = synthetic_chorales(), synthetic_chorales()
    assert all(torch.equal(x, y) for x, y in zip(a.train, b.train))
    voices = torch.cat([r.sum(1) for r in a.train])
    assert voices.min() >= 3 and voices.max() <= 4 and voices.float().mean() > 3.9   # a passing note may double
    assert load_rolls("").source == "<synthetic chorales>"


def test_training_windows_are_cut_and_transposed_on_the_keyboard():
    long = torch.zeros(500, 88, dtype=torch.uint8)
    long[:, 0] = 1                                                        # the lowest key: only upward shifts fit
    rolls = synthetic_chorales(4, 2, 2)
    rolls.train = [long]
    task = MusicTask(MusicConfig(window=50, transpose=5, hidden=4, layers=1), rolls)
    shifts = set()
    for _ in range(20):
        w = task._window(long)
        assert w.shape == (51, 88) and int(w.sum()) == 51
        shifts.add(int(torch.nonzero(w[0])[0]))
    assert min(shifts) == 0 and max(shifts) <= 5 and len(shifts) > 1


try:
    import pretty_midi
except ImportError:                                   # the .mat tests above and the JSB test below still run
    pretty_midi = None
needs_midi = pytest.mark.skipif(pretty_midi is None, reason="MIDI needs pretty_midi: pip install 'lstmkit[music]'")


def write_song(path, notes, tempo=120.0):
    """notes: (pitch, start beat, end beat)."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    inst = pretty_midi.Instrument(program=0)
    spb = 60.0 / tempo
    for pitch, a, b in notes:
        inst.notes.append(pretty_midi.Note(velocity=90, pitch=pitch, start=a * spb, end=b * spb))
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    drums.notes.append(pretty_midi.Note(velocity=90, pitch=36, start=0, end=spb))
    pm.instruments += [inst, drums]
    pm.write(str(path))
    return path


@needs_midi
def test_midi_read_back_on_the_beat_grid(tmp_path):
    from lstmkit.tasks.music.midi import read_midi_roll, write_midi
    path = write_song(tmp_path / "song.mid", [(60, 0, 1), (64, 0, 2), (67, 1, 2), (108, 2, 3), (10, 0, 3)])
    roll = read_midi_roll(path, frames_per_beat=2)
    assert roll.shape == (6, 88)                                          # 3 beats x 2 frames
    on = {(t, k + 21) for t, k in torch.nonzero(roll).tolist()}
    assert on == {(0, 60), (1, 60), (0, 64), (1, 64), (2, 64), (3, 64), (2, 67), (3, 67), (4, 108), (5, 108)}
    out = tmp_path / "again.mid"
    write_midi(roll, out, frame_seconds=0.25)                             # 120 bpm, 2 frames per beat
    assert torch.equal(read_midi_roll(out, frames_per_beat=2), roll)


@needs_midi
def test_midi_folders_split_by_the_documented_rule(tmp_path):
    from lstmkit.tasks.music.midi import read_midi_rolls
    for k in range(4):
        write_song(tmp_path / f"piece{k}.mid", [(60 + k, 0, 4), (72, 2, 4)])
    rolls = read_midi_rolls(tmp_path, frames_per_beat=1)
    assert [len(rolls.train), len(rolls.valid), len(rolls.test)] == [2, 1, 1]
    assert int(torch.nonzero(rolls.test[0][0])[0]) + 21 == 63             # the last file is the test piece
    one = write_song(tmp_path / "solo" / "long.mid" if (tmp_path / "solo").mkdir() is None else None,
                     [(60 + (b % 12), b, b + 1) for b in range(40)])
    single = read_midi_rolls(one, frames_per_beat=1)                       # one file: cut 80/10/10 in time
    assert [len(single.train[0]), len(single.valid[0]), len(single.test[0])] == [32, 4, 4]


@needs_midi
def test_an_unreadable_midi_file_is_named_with_the_reason(tmp_path):
    from lstmkit.tasks.music.midi import read_midi_roll, read_midi_rolls
    bad = tmp_path / "broken.mid"
    bad.write_bytes(b"MThd\x00\x00\x00\x06garbage")
    with pytest.raises(ValueError, match=r"broken.mid is not a readable MIDI file \(\w+"):
        read_midi_roll(bad)
    with pytest.raises(ValueError, match="holds no .mid or .midi file"):
        read_midi_rolls(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else None)


def test_the_real_jsb_chorales_file():
    path = needs_shared("polyphonic/JSB_Chorales.mat")
    rolls = read_mat(path)
    assert rolls.width == 88
    assert [len(rolls.train), len(rolls.valid), len(rolls.test)] == [229, 76, 77]
    frames = [sum(len(r) - 1 for r in rolls.split(s)) for s in ("train", "valid", "test")]
    assert frames == [13578, 4526, 4648]
    # a model that knows nothing (p = 0.5 for every key) scores 88 log 2 nats per frame
    model = MusicRNN(88, MusicConfig(hidden=4, layers=1))
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    nll, n = split_nll(model, rolls.test)
    assert n == 4648 and nll == pytest.approx(88 * math.log(2), rel=1e-6)
