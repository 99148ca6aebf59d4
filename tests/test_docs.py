"""The documentation runs: every ```python block of the README, and every docstring example."""

from __future__ import annotations

import doctest
import importlib
import pathlib
import pkgutil
import re

import pytest

import lstmkit

ROOT = pathlib.Path(__file__).resolve().parents[1]


def readme_blocks():
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("k", range(len(readme_blocks())))
def test_readme_python_blocks_run(k):
    exec(compile(readme_blocks()[k], f"README.md block {k}", "exec"), {})


def modules():
    for info in pkgutil.walk_packages(lstmkit.__path__, "lstmkit."):
        if not info.name.endswith("__main__"):                      # running them is their job
            yield info.name


@pytest.mark.parametrize("name", list(modules()))
def test_docstring_examples_run(name):
    mod = importlib.import_module(name)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_every_public_class_has_an_example():
    for name in lstmkit.__all__:
        obj = getattr(lstmkit, name)
        if isinstance(obj, type) or callable(obj):
            assert ">>>" in (obj.__doc__ or ""), f"lstmkit.{name} has no runnable example"
