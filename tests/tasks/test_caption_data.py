"""The captioning data: digit canvases (layout, captions, cells, held-out digits, attention masks, .npz files)
and users' captioned images (Flickr / COCO captions files, Pillow images, splits), with their errors."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pytest
import torch

from lstmkit.tasks.caption import canvas as cv_mod
from lstmkit.tasks.caption import images as im_mod
from lstmkit.tasks.caption.canvas import (DIGIT_WORDS, CanvasSpec, attention_score, cell_masks, describe,
                                          load_canvases, make_canvases, save_canvases)
from lstmkit.tasks.caption.images import (load_image, load_image_captions, read_coco_captions,
                                          read_flickr_captions, split_images, tokenize)

NO_SKLEARN = "the default caption data (digit canvases) needs scikit-learn: pip install 'lstmkit[seq2seq]'"
NO_PIL = "reading captioned images needs Pillow: pip install 'lstmkit[seq2seq]'"


@pytest.fixture(scope="module")
def pools():
    pytest.importorskip("sklearn", reason=NO_SKLEARN)
    from lstmkit.tasks.ctc.lines import DigitPools
    return DigitPools.load()


@pytest.fixture
def pil():
    return pytest.importorskip("PIL.Image", reason=NO_PIL)


def canvases(pools, split="train", n=20, seed=0, **spec):
    return make_canvases(pools.images[split], pools.labels[split], n, CanvasSpec(**spec),
                         torch.Generator().manual_seed(seed))


# ---- canvases ----------------------------------------------------------------------------------------------

def test_canvas_shapes_range_and_subset(pools):
    c = canvases(pools, n=12, rows=2, cols=4)
    assert c.images.shape == (12, 1, 40, 80) and c.images.dtype == torch.float32
    assert 0 <= c.images.min() and c.images.max() <= 1
    assert len(c) == 12 and len(c.captions) == len(c.tokens) == len(c.cells) == 12
    part = c.subset(3, 7)
    assert len(part) == 4 and torch.equal(part.images, c.images[3:7]) and part.captions == c.captions[3:7]
    again = canvases(pools, n=12, rows=2, cols=4)
    assert torch.equal(again.images, c.images) and again.captions == c.captions


@pytest.mark.parametrize("layout,caption,cells", [
    ({(0, 0): 7, (0, 1): 3, (1, 0): 1}, "seven left of three , one below", [0, -1, -1, 1, -1, 3, -1]),
    ({(1, 1): 4}, "four", [4]),
    ({(2, 2): 5, (0, 1): 0, (2, 0): 9}, "zero , nine left of five below", [1, -1, 6, -1, -1, 8, -1]),
    ({(2, 0): 2, (1, 2): 8, (0, 2): 6}, "six , eight below , two below", [2, -1, 5, -1, -1, 6, -1]),
])
def test_caption_grammar_on_hand_built_layouts(layout, caption, cells):
    tokens, got = describe(layout, cols=3)
    assert " ".join(tokens) == caption and got == cells


def test_describe_refuses_bad_layouts():
    with pytest.raises(ValueError, match="at least one digit"):
        describe({}, cols=3)
    with pytest.raises(ValueError, match=r"col 0..2\): digit 0..9, got \(0, 3\): 1"):
        describe({(0, 3): 1}, cols=3)
    with pytest.raises(ValueError, match=r"got \(0, 0\): 10"):
        describe({(0, 0): 10}, cols=3)


def find_digit(patch: torch.Tensor, spec: CanvasSpec, pool: torch.Tensor) -> set[int]:
    """Pool positions whose image (up to the ink gain) is drawn in a noiseless cell ``patch``."""
    d, s, found = 8 * spec.scale, spec.scale, set()
    norm = pool / pool.amax((1, 2), keepdim=True)                                   # (P, 8, 8)
    for oy in range(spec.cell - d + 1):
        for ox in range(spec.cell - d + 1):
            sub = patch[oy:oy + d:s, ox:ox + d:s]
            redrawn = torch.zeros_like(patch)
            redrawn[oy:oy + d, ox:ox + d] = sub.repeat_interleave(s, 0).repeat_interleave(s, 1)
            if sub.max() > 0 and torch.equal(redrawn, patch):
                diff = (norm - sub / sub.max()).abs().amax((1, 2))
                found |= set(torch.nonzero(diff < 1e-5).flatten().tolist())
    return found


def test_cells_align_with_tokens_and_name_the_digit_drawn_there(pools):
    spec = CanvasSpec(noise=0.0)
    c = canvases(pools, split="test", n=30, seed=3, noise=0.0)
    for image, tokens, cells in zip(c.images, c.tokens, c.cells):
        assert len(tokens) == len(cells)
        named = [k for k in cells if k >= 0]
        assert spec.min_digits <= len(named) <= spec.max_digits and len(set(named)) == len(named)
        for word, k in zip(tokens, cells):
            assert (k >= 0) == (word in DIGIT_WORDS)
            assert (k >= 0) or word in ("left", "of", ",", "below")
        for k in range(9):
            r, col = divmod(k, 3)
            patch = image[0, r * 20:(r + 1) * 20, col * 20:(col + 1) * 20]
            if k not in named:
                assert patch.max() == 0, f"cell {k} names no digit but holds ink"
                continue
            match = find_digit(patch, spec, pools.images["test"])
            assert match, f"cell {k}: no test-pool image drawn there"
            word = tokens[cells.index(k)]
            assert {int(pools.labels["test"][m]) for m in match} == {DIGIT_WORDS.index(word)}


def test_test_canvases_use_only_digit_images_never_seen_in_training(pools):
    spec = CanvasSpec(noise=0.0)
    for split, other in (("test", "train"), ("train", "test")):
        c = canvases(pools, split=split, n=10, seed=5, noise=0.0)
        for image, cells in zip(c.images, c.cells):
            for k in (k for k in cells if k >= 0):
                r, col = divmod(k, 3)
                patch = image[0, r * 20:(r + 1) * 20, col * 20:(col + 1) * 20]
                assert find_digit(patch, spec, pools.images[split])
                assert not find_digit(patch, spec, pools.images[other]), f"a {split} canvas holds a {other} digit"


@pytest.mark.parametrize("change,message", [
    (dict(cell=19), "cell must be at least 8 \\* scale \\+ 2 \\* jitter = 20 .* got 19"),
    (dict(max_digits=10), "max_digits <= rows \\* cols = 9, got 2..10"),
    (dict(min_digits=0), "min_digits must be an integer >= 1, got 0"),
    (dict(jitter=-1), "jitter must be an integer >= 0, got -1"),
    (dict(noise=float("nan")), "noise must be a finite number >= 0, got nan"),
])
def test_spec_validation_says_what_is_wrong(change, message):
    with pytest.raises(ValueError, match=message):
        CanvasSpec(**change).validate()


def test_make_canvases_refuses_a_bad_pool():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match=r"\(N, 8, 8\) pool of digits, got shape \(5, 8, 9\)"):
        make_canvases(torch.zeros(5, 8, 9), torch.zeros(5, dtype=torch.long), 2, CanvasSpec(), g)
    with pytest.raises(ValueError, match=r"labels must be \(5,\), one per image, got shape \(4,\)"):
        make_canvases(torch.zeros(5, 8, 8), torch.zeros(4, dtype=torch.long), 2, CanvasSpec(), g)


# ---- attention masks and score -----------------------------------------------------------------------------

@pytest.mark.parametrize("gh,gw", [(3, 3), (6, 6), (4, 4), (5, 7), (1, 1), (12, 9)])
def test_cell_masks_partition_every_location_and_uniform_attention_scores_one_ninth(gh, gw):
    spec = CanvasSpec()
    m = cell_masks(spec, gh, gw)
    assert m.shape == (9, gh * gw) and m.min() >= 0
    torch.testing.assert_close(m.sum(0), torch.ones(gh * gw))
    torch.testing.assert_close(m.sum(1), torch.full((9,), gh * gw / 9))
    cells = torch.arange(9)
    assert attention_score(torch.full((9, gh * gw), 1 / (gh * gw)), cells, m) == pytest.approx(1 / 9)


def test_cell_masks_grid_equal_to_cells_is_identity_and_attention_on_the_right_cell_scores_one():
    spec = CanvasSpec()
    assert torch.equal(cell_masks(spec, 3, 3), torch.eye(9))
    m = cell_masks(spec, 6, 6)                                          # each cell: 2 x 2 locations
    w = torch.zeros(3, 36)
    w[0, 0] = 1.0                                                       # location (0, 0): cell 0
    w[1, 6 * 5 + 4] = 0.5                                               # (5, 4) and (4, 5): cell 8
    w[1, 6 * 4 + 5] = 0.5
    w[2, 0] = 1.0                                                       # a comma: not scored
    assert attention_score(w, torch.tensor([0, 8, -1]), m) == pytest.approx(1.0)
    assert attention_score(w[:2], torch.tensor([1, 7]), m) == 0.0
    half = torch.zeros(1, 16)
    half[0, 1] = 1.0                                                    # 4x4 grid: location (0, 1) spans cells 0, 1
    assert attention_score(half, torch.tensor([0]), cell_masks(spec, 4, 4)) == pytest.approx(1 / 3)


def test_attention_score_errors():
    m = cell_masks(CanvasSpec(), 4, 4)
    with pytest.raises(ValueError, match=r"L = 16 grid locations .* got \(2, 15\)"):
        attention_score(torch.zeros(2, 15), torch.tensor([0, 1]), m)
    with pytest.raises(ValueError, match=r"cells must be \(2,\), one per word, got \(3,\)"):
        attention_score(torch.zeros(2, 16), torch.tensor([0, 1, 2]), m)
    with pytest.raises(ValueError, match="cells must be -1 or 0..8, got 0..9"):
        attention_score(torch.zeros(2, 16), torch.tensor([0, 9]), m)
    with pytest.raises(ValueError, match="no digit words"):
        attention_score(torch.zeros(2, 16), torch.tensor([-1, -1]), m)
    with pytest.raises(ValueError, match="grid_h and grid_w must be integers >= 1, got 0 x 3"):
        cell_masks(CanvasSpec(), 0, 3)


# ---- .npz files --------------------------------------------------------------------------------------------

def test_npz_round_trip_keeps_everything(pools, tmp_path):
    c = canvases(pools, split="test", n=7, seed=2, rows=2, cols=3, cell=22, jitter=3)
    save_canvases(c.subset(1, 6), tmp_path / "test.npz")
    back = load_canvases(tmp_path / "test.npz")
    assert torch.equal(back.images, c.images[1:6]) and back.captions == c.captions[1:6]
    assert back.tokens == c.tokens[1:6] and back.cells == c.cells[1:6] and back.spec == c.spec
    assert not list(tmp_path.glob(".*.tmp")), "the atomic write left a temporary file"


def write_npz(path, **arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def good_arrays():
    spec = CanvasSpec(rows=1, cols=2, max_digits=2)
    return dict(images=np.zeros((1, 1, 20, 40), np.float32), captions=np.array(["one left of two"]),
                cells=np.array([[0, -1, -1, 1]]), spec=np.array(json.dumps(spec.__dict__)))


@pytest.mark.parametrize("change,message", [
    (dict(cells=None), "expected arrays images, captions, cells, spec; missing cells"),
    (dict(images=np.zeros((1, 1, 20, 41), np.float32)), r"images must be float \(N, 1, 20, 40\) .* \(1, 1, 20, 41\)"),
    (dict(images=np.zeros((0, 1, 20, 40), np.float32), captions=np.array([], str), cells=np.zeros((0, 4), int)),
     "holds no canvases"),
    (dict(images=np.full((1, 1, 20, 40), np.nan, np.float32)), "NaN or infinite"),
    (dict(captions=np.array(["one left of"])), r"canvas 0: caption 'one left of' \(3 tokens\) needs one cell per token"),
    (dict(cells=np.array([[-1, -1, -1, 1]])), "a cell 0..1 for each digit word and -1 otherwise; got cells"),
    (dict(captions=np.array(["one", "two"])), r"captions \(1,\) strings and cells \(1, L\) integers"),
    (dict(spec=np.array('{"rows": 1, "colour": 2}')), r"spec must be a JSON object .* unknown fields \['colour'\]"),
    (dict(spec=np.array('{"rows": 1, "cols": 2, "max_digits": 2, "cell": 12}')), "spec must be .* cell must be at least"),
    (dict(spec=np.array("not json")), "spec must be a JSON object of CanvasSpec fields"),
])
def test_load_canvases_names_what_is_wrong(tmp_path, change, message):
    arrays = {**good_arrays(), **change}
    path = write_npz(tmp_path / "bad.npz", **{k: v for k, v in arrays.items() if v is not None})
    with pytest.raises(ValueError, match=message) as e:
        load_canvases(path)
    assert str(path) in str(e.value)


def test_load_canvases_refuses_missing_and_non_npz_files(tmp_path):
    assert len(load_canvases(write_npz(tmp_path / "good.npz", **good_arrays()))) == 1
    with pytest.raises(FileNotFoundError, match="expected a .npz file of canvases, which does not exist"):
        load_canvases(tmp_path / "absent.npz")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match="junk.npz: expected a .npz file of arrays images, captions, cells, spec"):
        load_canvases(tmp_path / "junk.npz")
    arrays = {**good_arrays(), "captions": np.array(["one left of two"], dtype=object)}
    with pytest.raises(ValueError, match="obj.npz: expected a .npz file of arrays"):
        load_canvases(write_npz(tmp_path / "obj.npz", **arrays))


# ---- captions files ----------------------------------------------------------------------------------------

def test_read_flickr_captions(tmp_path):
    f = tmp_path / "Flickr8k.token.txt"
    f.write_bytes(b"a.jpg#0\tA dog runs .\r\na.jpg#1\tA brown dog .\r\n\r\nb#c.jpg\tTwo cats.\nc.jpg#2\tHi\n")
    assert read_flickr_captions(f) == {"a.jpg": ["A dog runs .", "A brown dog ."], "b#c.jpg": ["Two cats."],
                                       "c.jpg": ["Hi"]}


@pytest.mark.parametrize("text,message", [
    ("a.jpg#0\tok\nb.jpg no tab here\n", r"Flickr8k.token.txt:2: expected 'image.jpg#k<TAB>caption', got 'b.jpg no"),
    ("a.jpg#0\tok\n\nb.jpg#1\t   \n", r"Flickr8k.token.txt:3: the caption of b.jpg is empty"),
    ("#0\tA caption\n", r"Flickr8k.token.txt:1: expected an image file name before the tab"),
    ("\n\n", r"Flickr8k.token.txt holds no captions"),
])
def test_read_flickr_captions_errors_name_file_and_line(tmp_path, text, message):
    f = tmp_path / "Flickr8k.token.txt"
    f.write_text(text)
    with pytest.raises(ValueError, match=message):
        read_flickr_captions(f)


def coco(tmp_path, images, annotations):
    f = tmp_path / "captions.json"
    f.write_text(json.dumps({"images": images, "annotations": annotations}))
    return f


def test_read_coco_captions(tmp_path):
    f = coco(tmp_path, [{"id": 2, "file_name": "b.jpg"}, {"id": 1, "file_name": "a.jpg"}, {"id": 3, "file_name": "c.jpg"}],
             [{"image_id": 1, "caption": "A cat. "}, {"image_id": 2, "caption": "Dog"}, {"image_id": 1, "caption": "Cat"}])
    assert read_coco_captions(f) == {"b.jpg": ["Dog"], "a.jpg": ["A cat.", "Cat"]}     # c.jpg has no caption


@pytest.mark.parametrize("images,annotations,message", [
    ([{"id": 1, "file_name": "a.jpg"}], [{"image_id": 5, "caption": "x"}], r"annotations\[0\] has image_id 5, which is not"),
    ([{"id": 1, "file_name": "a.jpg"}], [{"image_id": 1, "caption": "x"}, {"image_id": 1, "caption": " "}],
     r"annotations\[1\] \(image id 1\) has an empty caption"),
    ([{"id": 1}], [], r"images\[0\] must have 'id' and 'file_name'"),
    ([{"id": 1, "file_name": "a"}, {"id": 1, "file_name": "b"}], [], r"images\[1\] repeats image id 1"),
    ([{"id": 1, "file_name": "a"}], [{"caption": "x"}], r"annotations\[0\] must have 'image_id' and 'caption'"),
])
def test_read_coco_captions_errors(tmp_path, images, annotations, message):
    with pytest.raises(ValueError, match=message):
        read_coco_captions(coco(tmp_path, images, annotations))


def test_read_coco_captions_bad_json_and_missing_files(tmp_path):
    f = tmp_path / "captions.json"
    f.write_text('{"images": [],\n "annotations": [,]}')
    with pytest.raises(ValueError, match=r"captions.json:2: expected COCO captions JSON"):
        read_coco_captions(f)
    f.write_text('{"images": []}')
    with pytest.raises(ValueError, match=r"lists 'images' and 'annotations', got \['images'\]"):
        read_coco_captions(f)
    with pytest.raises(FileNotFoundError, match="captions file .*nope.json does not exist"):
        read_coco_captions(tmp_path / "nope.json")
    (tmp_path / "latin1.txt").write_bytes(b"a.jpg\tcaf\xe9\n")
    with pytest.raises(ValueError, match="latin1.txt: expected UTF-8 text"):
        read_flickr_captions(tmp_path / "latin1.txt")


def test_tokenize():
    assert tokenize("Two DOGS, one's brown -- running!") == ["two", "dogs", ",", "one's", "brown", "-", "-",
                                                             "running", "!"]


# ---- images ------------------------------------------------------------------------------------------------

def test_load_image_crops_the_centre_and_converts(pil, tmp_path):
    img = pil.new("RGB", (30, 10), (0, 0, 255))
    img.paste((255, 0, 0), (10, 0, 20, 10))                            # the central 10x10 square is red
    img.save(tmp_path / "wide.png")
    x = load_image(tmp_path / "wide.png", 5)
    assert x.shape == (3, 5, 5) and x.dtype == torch.float32
    torch.testing.assert_close(x, torch.tensor([1.0, 0.0, 0.0]).view(3, 1, 1).expand(3, 5, 5))
    g = load_image(tmp_path / "wide.png", 4, channels=1)
    assert g.shape == (1, 4, 4) and 0 < g.min() and g.max() < 1
    pil.new("L", (6, 9), 255).save(tmp_path / "grey.jpg")
    assert load_image(tmp_path / "grey.jpg", 3).shape == (3, 3, 3)
    pil.new("P", (4, 4)).save(tmp_path / "palette.gif")
    assert load_image(tmp_path / "palette.gif", 2).shape == (3, 2, 2)


def test_load_image_errors_name_the_file(pil, tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    with pytest.raises(ValueError, match=r"cannot read image .*broken.jpg: "):
        load_image(tmp_path / "broken.jpg", 8)
    pil.new("RGB", (64, 64), (9, 9, 9)).save(tmp_path / "whole.png")
    data = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cannot read image .*cut.png: "):
        load_image(tmp_path / "cut.png", 8)
    with pytest.raises(FileNotFoundError, match=r"cannot read image .*absent.png: no such file"):
        load_image(tmp_path / "absent.png", 8)
    with pytest.raises(ValueError, match="size must be an integer >= 1 and channels 1 or 3, got size=8, channels=2"):
        load_image(tmp_path / "whole.png", 8, channels=2)


def test_load_image_captions_flickr_and_coco(pil, tmp_path):
    for name, colour in (("a.jpg", (255, 255, 255)), ("b.png", (0, 0, 0))):
        pil.new("RGB", (12, 8), colour).save(tmp_path / name)
    (tmp_path / "caps.txt").write_text("b.png#0\tA Black box.\na.jpg#0\tWhite!\nb.png#1\tDark, dark.\n")
    data = load_image_captions(tmp_path, tmp_path / "caps.txt", size=6)
    images, captions, names = data
    assert images.shape == (2, 3, 6, 6) and names == ["b.png", "a.jpg"]
    assert captions == [["a black box .", "dark , dark ."], ["white !"]]
    assert images[0].max() == 0 and images[1].min() > 0.95
    sel = data.select(torch.tensor([1]))
    assert sel.names == ["a.jpg"] and torch.equal(sel.images, images[1:])
    f = coco(tmp_path, [{"id": 1, "file_name": "a.jpg"}], [{"image_id": 1, "caption": "White."}])
    grey = load_image_captions(tmp_path, f, size=4, channels=1)
    assert grey.images.shape == (1, 1, 4, 4) and grey.captions == [["white ."]]


def test_load_image_captions_names_missing_images(pil, tmp_path):
    pil.new("RGB", (4, 4)).save(tmp_path / "a.jpg")
    (tmp_path / "caps.txt").write_text("a.jpg#0\tx\ngone.jpg#0\ty\nlost.jpg\tz\n")
    with pytest.raises(FileNotFoundError, match=r"2 of the 3 images named in .*caps.txt are not in .*: gone.jpg, lost.jpg"):
        load_image_captions(tmp_path, tmp_path / "caps.txt", size=4)
    with pytest.raises(FileNotFoundError, match="image folder .*nowhere does not exist"):
        load_image_captions(tmp_path / "nowhere", tmp_path / "caps.txt", size=4)


def test_split_images_is_deterministic_and_disjoint():
    a = split_images(101, 0.1, 0.2, seed=7)
    b = split_images(101, 0.1, 0.2, seed=7)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert [len(p) for p in a] == [71, 10, 20]
    assert sorted(torch.cat(a).tolist()) == list(range(101))
    assert not torch.equal(split_images(101, 0.1, 0.2, seed=8)[2], a[2])
    with pytest.raises(ValueError, match="val_fraction must be a number in \\[0, 1\\), got 1.5"):
        split_images(10, 1.5, 0.1, seed=0)
    with pytest.raises(ValueError, match="splitting 2 images leaves none for training: 1 validation \\+ 1 test"):
        split_images(2, 0.5, 0.5, seed=0)


# ---- the docstring examples (tests/test_docs.py runs them too once the package has an __init__.py) -------

@pytest.mark.parametrize("module,needs", [(cv_mod, "pools"), (im_mod, "pil")], ids=["canvas", "images"])
def test_docstring_examples(module, needs, request):
    request.getfixturevalue(needs)                                      # skips without scikit-learn / Pillow
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
