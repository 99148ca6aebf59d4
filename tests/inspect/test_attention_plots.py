"""The attention pictures are valid PNGs of sensible size, accept tensors and numpy, label whitespace and long
sequences, are written atomically, and refuse shapes that do not fit with errors naming expected and got."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import torch

from lstmkit.inspect.attention import MAX_LABELS, _label, plot_alignment, plot_image_attention, plot_score_by_length

PNG = b"\x89PNG\r\n\x1a\n"


def png_size(path) -> tuple[int, int]:
    """(width, height) of a PNG, checked by its magic bytes and by Pillow decoding it whole."""
    data = path.read_bytes()
    assert data[:8] == PNG and data[12:16] == b"IHDR"
    size = struct.unpack(">II", data[16:24])
    Image = pytest.importorskip("PIL.Image")
    with Image.open(path) as im:
        im.load()
        assert im.format == "PNG" and im.size == size
    return size


def no_temp_files(folder) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]


def rows_softmax(*shape) -> torch.Tensor:
    return torch.softmax(torch.randn(*shape, generator=torch.Generator().manual_seed(0)), dim=-1)


# ---- plot_alignment -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["tensor", "numpy", "list", "grad"])
def test_alignment_accepts_tensors_numpy_and_lists(tmp_path, kind):
    w = rows_softmax(4, 6)
    w = {"tensor": w, "numpy": w.numpy(), "list": w.tolist(), "grad": w.clone().requires_grad_()}[kind]
    out = plot_alignment(w, list("abcdef"), ["w", "x", "y", "z"], tmp_path / "sub" / "a.png", title="t")
    assert out == tmp_path / "sub" / "a.png"
    width, height = png_size(out)
    assert 300 <= width <= 2500 and 300 <= height <= 2500
    assert no_temp_files(out.parent)


def test_alignment_replaces_an_existing_file_and_accepts_str_paths(tmp_path):
    target = tmp_path / "a.png"
    target.write_bytes(b"old")
    out = plot_alignment(np.eye(2), ["a", "b"], ["x", "y"], str(target))
    assert out == target and target.read_bytes()[:8] == PNG


def test_alignment_whitespace_and_odd_tokens(tmp_path):
    src = [" ", "\n", "\t", "", "  ", "$5", "$x$", "a$b$c", "\u00a0", 7, "averyveryverylongtoken"]
    tgt = ["\r\n", "$", " ", "ok"]
    png_size(plot_alignment(rows_softmax(len(tgt), len(src)), src, tgt, tmp_path / "ws.png"))


def test_labels_make_whitespace_visible_and_escape_mathtext():
    assert _label(" ") == "\u2423" and _label("\n") == "\\n" and _label("\t") == "\\t" and _label("") == "''"
    assert _label("  ") == "\u2423\u2423" and _label("\u00a0") == "\u2423"
    assert _label("$x$") == "\\$x\\$" and _label(3) == "3"
    assert _label("abcdefghijklmnop") == "abcdefghijk\u2026"


def test_alignment_many_tokens_has_capped_size(tmp_path):
    src, tgt = [f"s{i}" for i in range(600)], [f"t{i}" for i in range(450)]
    width, height = png_size(plot_alignment(rows_softmax(450, 600), src, tgt, tmp_path / "long.png"))
    assert width <= 2400 and height <= 2400
    assert MAX_LABELS <= 100


def test_alignment_one_token(tmp_path):
    png_size(plot_alignment([[1.0]], ["a"], ["b"], tmp_path / "one.png"))


@pytest.mark.parametrize("shape, src, tgt, match", [
    ((3, 4), 3, 3, r"weights has 4 columns but there are 3 source_tokens; expected .* \(3, 3\), got \(3, 4\)"),
    ((2, 3), 3, 3, r"weights has 2 rows but there are 3 target_tokens"),
    ((4, 3), 4, 3, r"\(transposed\? rows are target tokens\)"),
    ((0, 0), 0, 0, r"at least one source and one target token"),
])
def test_alignment_shape_errors(tmp_path, shape, src, tgt, match):
    with pytest.raises(ValueError, match=match):
        plot_alignment(np.full(shape, 0.25), ["s"] * src, ["t"] * tgt, tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists() and no_temp_files(tmp_path)


@pytest.mark.parametrize("w, match", [
    (np.ones(3), r"weights must have 2 dimensions, got shape \(3,\)"),
    (np.ones((1, 3, 3)), r"weights must have 2 dimensions"),
    (np.full((3, 3), np.nan), r"must be finite"),
    (np.full((3, 3), -0.5), r"in \[0, 1\], got values from -0.5 to -0.5"),
    (np.full((3, 3), 2.0), r"in \[0, 1\]"),
])
def test_alignment_value_errors(tmp_path, w, match):
    with pytest.raises(ValueError, match=match):
        plot_alignment(w, list("abc"), list("xyz"), tmp_path / "bad.png")


# ---- plot_image_attention -------------------------------------------------------------------------------------

@pytest.mark.parametrize("image", [torch.rand(3, 40, 56), torch.rand(1, 40, 56), torch.rand(40, 56),
                                   np.random.default_rng(0).random((3, 40, 56))], ids=["rgb", "c1", "hw", "numpy"])
def test_image_attention_panels(tmp_path, image):
    words = ["a", " ", "seven", "<eos>"]
    out = plot_image_attention(image, rows_softmax(4, 5 * 7), words, (5, 7), tmp_path / "cap.png", columns=3)
    width, height = png_size(out)
    assert 400 <= width <= 800 and 300 <= height <= 600             # 3 columns, 2 rows of panels
    assert no_temp_files(tmp_path)


def test_image_attention_numpy_weights_many_words_and_one_column(tmp_path):
    w = rows_softmax(23, 16).numpy()
    width, height = png_size(plot_image_attention(torch.rand(3, 16, 16), w, [f"w{i}" for i in range(23)], (4, 4),
                                                  tmp_path / "many.png"))
    assert height > width                                               # 24 panels, 5 a row: 5 rows
    narrow, tall = png_size(plot_image_attention(torch.rand(16, 16), w[:2], ["a", "b"], (4, 4),
                                                 tmp_path / "col.png", columns=1))
    assert tall > 2 * narrow


def test_image_attention_uniform_and_peaked_maps(tmp_path):
    w = torch.zeros(2, 9)
    w[0] = 1 / 9
    w[1, 4] = 1.0
    png_size(plot_image_attention(torch.rand(3, 30, 30), w, ["all", "centre"], [3, 3], tmp_path / "u.png"))


@pytest.mark.parametrize("image, weights, words, grid, match", [
    (torch.rand(32, 32, 3), torch.rand(1, 4) / 4, ["a"], (2, 2), r"got shape \(32, 32, 3\) \(channels last"),
    (torch.rand(2, 32, 32), torch.rand(1, 4) / 4, ["a"], (2, 2), r"C 1 or 3, or \(H, W\), got shape \(2, 32, 32\)"),
    (torch.rand(8), torch.rand(1, 4) / 4, ["a"], (2, 2), r"got shape \(8,\)"),
    (torch.rand(3, 8, 8) * 255, torch.rand(1, 4) / 4, ["a"], (2, 2), r"image values must be in \[0, 1\]"),
    (torch.rand(3, 8, 8), torch.rand(1, 4) / 4, ["a"], (3, 2), r"grid \(3, 2\) has 6 cells but weights has 4 col"),
    (torch.rand(3, 8, 8), torch.rand(2, 4) / 4, ["a"], (2, 2), r"weights has 2 rows but there are 1 words; "
                                                                 r"expected .* \(1, 4\)"),
    (torch.rand(3, 8, 8), torch.rand(4) / 4, ["a"], (2, 2), r"weights must have 2 dimensions"),
    (torch.rand(3, 8, 8), torch.rand(1, 4) / 4, ["a"], (2, 2, 1), r"grid must be \(grid_h, grid_w\)"),
    (torch.rand(3, 8, 8), torch.rand(1, 4) / 4, ["a"], (2.0, 2), r"grid must be"),
    (torch.rand(3, 8, 8), torch.zeros(0, 4), [], (2, 2), r"at least one word"),
])
def test_image_attention_errors(tmp_path, image, weights, words, grid, match):
    with pytest.raises(ValueError, match=match):
        plot_image_attention(image, weights, words, grid, tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()


@pytest.mark.parametrize("columns", [0, -1, 2.5])
def test_image_attention_bad_columns(tmp_path, columns):
    with pytest.raises(ValueError, match=r"columns must be a positive int"):
        plot_image_attention(torch.rand(8, 8), torch.ones(1, 4) / 4, ["a"], (2, 2), tmp_path / "c.png", columns)


# ---- plot_score_by_length -------------------------------------------------------------------------------------

def test_score_by_length_numeric_and_named_buckets(tmp_path):
    rows = [{"label": "attention", "lengths": [10, 20.0, np.int64(30)], "scores": torch.tensor([28.0, 27, 26])},
            {"label": "no attention", "lengths": [10, 20, 30, 40], "scores": np.array([25.0, 20, 15, 9])}]
    width, height = png_size(plot_score_by_length(rows, tmp_path / "n.png", metric="chrF", title="t"))
    assert 400 <= width <= 800 and 250 <= height <= 600
    named = [{"label": "RNNsearch-50", "lengths": ["0-9", "10-19", "20-29"], "scores": [30, 29, 28]},
             {"label": "RNNenc-50", "lengths": ["10-19", "20-29", "30-39"], "scores": [24, 20, 15]}]
    png_size(plot_score_by_length(named, tmp_path / "b.png"))
    many = [{"label": "m", "lengths": [f"{i}-{i + 1}" for i in range(0, 300, 2)], "scores": list(range(150))}]
    png_size(plot_score_by_length(many, tmp_path / "m.png"))
    assert no_temp_files(tmp_path)


@pytest.mark.parametrize("rows, match", [
    ([], r"non-empty list of dicts, got list"),
    ({"label": "a", "lengths": [1], "scores": [1]}, r"non-empty list of dicts, got dict"),
    ([{"label": "a", "lengths": [1]}], r"rows\[0\] must be a dict with keys \['label', 'lengths', 'scores'\], "
                                       r"got \['label', 'lengths'\]"),
    ([{"label": "a", "lengths": [1], "score": [1]}], r"got \['label', 'lengths', 'score'\]"),
    (["a"], r"rows\[0\] must be a dict .* got str"),
    ([{"label": "a", "lengths": [1, 2], "scores": [1]}], r"rows\[0\] \('a'\) needs as many lengths as scores.*"
                                                         r"got 2 lengths and 1 scores"),
    ([{"label": "a", "lengths": [], "scores": []}], r"at least one"),
    ([{"label": "a", "lengths": [1], "scores": [[1]]}], r"rows\[0\]\['scores'\] must have 1 dimensions"),
    ([{"label": "a", "lengths": [1], "scores": [float("inf")]}], r"must be finite"),
    ([{"label": "a", "lengths": [1], "scores": [1]}] * 2, r"distinct labels, got \['a', 'a'\]"),
])
def test_score_by_length_errors(tmp_path, rows, match):
    with pytest.raises(ValueError, match=match):
        plot_score_by_length(rows, tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()


def test_a_directory_path_is_refused_without_leaving_files(tmp_path):
    from lstmkit.train.atomic import OutputError
    with pytest.raises(OutputError, match="is a directory"):
        plot_alignment(np.eye(2), ["a", "b"], ["x", "y"], tmp_path)
    assert list(tmp_path.iterdir()) == []
