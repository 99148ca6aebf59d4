"""Users' own captioned images: a folder of image files and a captions file, Flickr8k/30k or COCO style.

* Flickr (``Flickr8k.token.txt``): one caption per line, ``image.jpg#k<TAB>caption``; the ``#k`` (the
  caption's number) is optional. Blank lines are skipped.
* COCO (``captions_train2014.json``): a JSON object with ``images`` (``id``, ``file_name``) and
  ``annotations`` (``image_id``, ``caption``). Images without any caption are left out.

Captions are tokenised by :func:`tokenize` (lowercase; words and punctuation marks are tokens) and kept as
strings of space-separated tokens, like the canvas captions, so ``caption.split()`` gives the tokens.
Images are read with Pillow (:func:`load_image`): colours converted, the central square cropped, resized.
Nothing is cached on disk.
"""

from __future__ import annotations

import json
import pathlib
import re
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

__all__ = ["read_flickr_captions", "read_coco_captions", "tokenize", "load_image", "ImageCaptions",
           "load_image_captions", "split_images", "need_pillow"]

#: a word (letters/digits, with inner apostrophes: "man's", "don't") or a single punctuation mark
TOKEN = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")


def need_pillow():
    """``PIL.Image``, or an ImportError that names what to install."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("reading images for captioning needs Pillow: pip install pillow "
                          "(or pip install 'lstmkit[seq2seq]')") from None
    return Image


def tokenize(caption: str) -> list[str]:
    """Lowercase ``caption`` and split it into words and punctuation marks (regex :data:`TOKEN`).

    Example::

        >>> from lstmkit.tasks.caption.images import tokenize
        >>> tokenize("A dog's ball, in the  PARK.")
        ['a', "dog's", 'ball', ',', 'in', 'the', 'park', '.']
    """
    return TOKEN.findall(caption.lower())


def _read_text(path: pathlib.Path, what: str) -> str:
    if not path.is_file():
        raise FileNotFoundError(f"captions file {path} does not exist; expected {what}")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: expected UTF-8 text ({what}); {e}") from None


def read_flickr_captions(path: str | pathlib.Path) -> dict[str, list[str]]:
    """``{image file name: [caption, ...]}`` from a Flickr8k/30k token file, in file order.

    Example::

        >>> import pathlib, tempfile
        >>> from lstmkit.tasks.caption.images import read_flickr_captions
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "captions.txt"
        >>> _ = f.write_text("a.jpg#0\\tA dog runs .\\na.jpg#1\\tA brown dog .\\nb.jpg\\tTwo cats .\\n")
        >>> read_flickr_captions(f)
        {'a.jpg': ['A dog runs .', 'A brown dog .'], 'b.jpg': ['Two cats .']}
        >>> _ = f.write_text("a.jpg#0\\tA dog runs .\\nb.jpg two cats\\n")
        >>> read_flickr_captions(f)
        Traceback (most recent call last):
        ...
        ValueError: .../captions.txt:2: expected 'image.jpg#k<TAB>caption', got 'b.jpg two cats'
    """
    path = pathlib.Path(path)
    out: dict[str, list[str]] = {}
    for number, line in enumerate(_read_text(path, "Flickr captions: image.jpg#k<TAB>caption").splitlines(), 1):
        if not line.strip():
            continue
        name, tab, caption = line.partition("\t")
        if not tab:
            raise ValueError(f"{path}:{number}: expected 'image.jpg#k<TAB>caption', got {line[:80]!r}")
        base, hash_, k = name.strip().rpartition("#")
        name = base if hash_ and k.isdigit() else name.strip()
        if not name:
            raise ValueError(f"{path}:{number}: expected an image file name before the tab, got {line[:80]!r}")
        if not caption.strip():
            raise ValueError(f"{path}:{number}: the caption of {name} is empty; expected some words")
        out.setdefault(name, []).append(caption.strip())
    if not out:
        raise ValueError(f"{path} holds no captions; expected lines 'image.jpg#k<TAB>caption'")
    return out


def read_coco_captions(path: str | pathlib.Path) -> dict[str, list[str]]:
    """``{image file name: [caption, ...]}`` from a COCO captions JSON file, in ``images`` order.

    Example::

        >>> import json, pathlib, tempfile
        >>> from lstmkit.tasks.caption.images import read_coco_captions
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "captions.json"
        >>> _ = f.write_text(json.dumps({"images": [{"id": 7, "file_name": "x.jpg"}],
        ...                              "annotations": [{"image_id": 7, "caption": "A cat."},
        ...                                              {"image_id": 9, "caption": "A dog."}]}))
        >>> read_coco_captions(f)
        Traceback (most recent call last):
        ...
        ValueError: .../captions.json: annotations[1] has image_id 9, which is not among the images
    """
    path = pathlib.Path(path)
    text = _read_text(path, "COCO captions JSON with 'images' and 'annotations'")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{e.lineno}: expected COCO captions JSON; {e.msg} (column {e.colno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) \
            or not isinstance(data.get("annotations"), list):
        raise ValueError(f"{path}: expected a JSON object with lists 'images' and 'annotations', got "
                         f"{sorted(data) if isinstance(data, dict) else type(data).__name__}")
    names: dict = {}
    for i, im in enumerate(data["images"]):
        if not isinstance(im, dict) or "id" not in im or not isinstance(im.get("file_name"), str):
            raise ValueError(f"{path}: images[{i}] must have 'id' and 'file_name' (a string), got {im!r:.80}")
        if im["id"] in names:
            raise ValueError(f"{path}: images[{i}] repeats image id {im['id']!r}; expected unique ids")
        names[im["id"]] = im["file_name"]
    captions: dict = {}
    for i, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict) or "image_id" not in ann or not isinstance(ann.get("caption"), str):
            raise ValueError(f"{path}: annotations[{i}] must have 'image_id' and 'caption' (a string), got "
                             f"{ann!r:.80}")
        if ann["image_id"] not in names:
            raise ValueError(f"{path}: annotations[{i}] has image_id {ann['image_id']!r}, which is not among "
                             f"the images")
        if not ann["caption"].strip():
            raise ValueError(f"{path}: annotations[{i}] (image id {ann['image_id']!r}) has an empty caption; "
                             f"expected some words")
        captions.setdefault(ann["image_id"], []).append(ann["caption"].strip())
    out = {names[k]: captions[k] for k in names if k in captions}
    if not out:
        raise ValueError(f"{path} holds no captions; expected 'annotations' with image_id and caption")
    return out


def load_image(path: str | pathlib.Path, size: int, channels: int = 3) -> Tensor:
    """``(channels, size, size)`` float in [0, 1]: the image turned upright (EXIF), converted to RGB
    (``channels=3``) or grey (``channels=1``), its central square cropped (the whole width or height,
    whichever is shorter), then resized to ``size x size`` (bicubic, antialiased).

    Example::

        >>> import pathlib, tempfile
        >>> from PIL import Image
        >>> from lstmkit.tasks.caption.images import load_image
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "red.png"
        >>> Image.new("RGB", (30, 20), (255, 0, 0)).save(f)
        >>> x = load_image(f, 8)
        >>> x.shape, x[0].min().item(), x[1].max().item()
        (torch.Size([3, 8, 8]), 1.0, 0.0)
    """
    Image = need_pillow()
    from PIL import ImageOps

    path = pathlib.Path(path)
    if not isinstance(size, int) or size < 1 or channels not in (1, 3):
        raise ValueError(f"size must be an integer >= 1 and channels 1 or 3, got size={size!r}, "
                         f"channels={channels!r}")
    if not path.is_file():
        raise FileNotFoundError(f"cannot read image {path}: no such file")
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            img = img.convert("RGBA" if img.mode == "P" else img.mode).convert("RGB" if channels == 3 else "L")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise ValueError(f"cannot read image {path}: {e}") from None
    w, h = img.size
    side = min(w, h)
    box = ((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side)
    img = img.crop(box).resize((size, size), Image.Resampling.BICUBIC)        # nothing outside the square
    x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0)             # (S, S) or (S, S, 3)
    return x.unsqueeze(0) if channels == 1 else x.permute(2, 0, 1).contiguous()


class ImageCaptions(NamedTuple):
    """Images and their reference captions: ``images (N, C, S, S)`` in [0, 1], ``captions[i]`` all
    references of image i (token strings, see :func:`tokenize`), ``names[i]`` its file name."""

    images: Tensor
    captions: list[list[str]]
    names: list[str]

    def select(self, index) -> "ImageCaptions":
        """The images at ``index`` (a sequence or 1-D tensor of positions), in that order."""
        index = [int(i) for i in index]
        return ImageCaptions(self.images[index], [self.captions[i] for i in index], [self.names[i] for i in index])


def load_image_captions(folder: str | pathlib.Path, captions_file: str | pathlib.Path, size: int,
                        channels: int = 3) -> ImageCaptions:
    """Every captioned image of ``captions_file`` (``.json``: COCO, anything else: Flickr) read from
    ``folder``, in the captions file's order. Every image must exist: the error names the missing ones.
    Memory: ``N * channels * size * size * 4`` bytes (Flickr8k at size 128, 3 channels: 1.6 GB).

    Example::

        >>> import pathlib, tempfile
        >>> from PIL import Image
        >>> from lstmkit.tasks.caption.images import load_image_captions
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> Image.new("RGB", (12, 12)).save(d / "a.png")
        >>> _ = (d / "captions.txt").write_text("a.png#0\\tA black square.\\na.png#1\\tDarkness!\\n")
        >>> data = load_image_captions(d, d / "captions.txt", size=4)
        >>> data.images.shape, data.captions, data.names
        (torch.Size([1, 3, 4, 4]), [['a black square .', 'darkness !']], ['a.png'])
    """
    folder, captions_file = pathlib.Path(folder), pathlib.Path(captions_file)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist; expected a folder of images")
    read = read_coco_captions if captions_file.suffix.lower() == ".json" else read_flickr_captions
    refs = read(captions_file)
    names = list(refs)
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} of the {len(names)} images named in {captions_file} are not in "
                                f"{folder}: {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
    images = torch.empty(len(names), channels, size, size)
    for i, name in enumerate(names):
        images[i] = load_image(folder / name, size, channels)
    captions = [[" ".join(tokenize(c)) for c in refs[n]] for n in names]
    return ImageCaptions(images, captions, names)


def split_images(n: int, val_fraction: float, test_fraction: float, seed: int) -> tuple[Tensor, Tensor, Tensor]:
    """Train, validation and test positions (sorted LongTensors) for ``n`` images: a random permutation
    from ``seed`` (same arguments, same split); validation and test get ``round(n * fraction)`` each.

    Example::

        >>> from lstmkit.tasks.caption.images import split_images
        >>> train, val, test = split_images(10, 0.2, 0.1, seed=0)
        >>> len(train), len(val), len(test), sorted(train.tolist() + val.tolist() + test.tolist()) == list(range(10))
        (7, 2, 1, True)
    """
    for name, f in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not (isinstance(f, (int, float)) and 0 <= f < 1):
            raise ValueError(f"{name} must be a number in [0, 1), got {f!r}")
    n_val, n_test = int(round(n * val_fraction)), int(round(n * test_fraction))
    if n_val + n_test >= n:
        raise ValueError(f"splitting {n} images leaves none for training: {n_val} validation + {n_test} test; "
                         f"expected fewer (val_fraction + test_fraction < 1 and more images)")
    perm = torch.from_numpy(np.random.default_rng(seed).permutation(n))
    parts = perm[:n - n_val - n_test], perm[n - n_val - n_test:n - n_test], perm[n - n_test:]
    return tuple(p.sort().values.long() for p in parts)
