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


def _command_lines(text: str) -> list[str]:
    """Every ``lstmkit ...`` command line in a text: continuation lines joined, comments and shell
    redirections cut."""
    out = []
    for line in re.sub(r"\\\n\s*", " ", text).splitlines():
        line = line.strip().lstrip("$").strip()
        if line.startswith("torchrun ") and " -m lstmkit " in line:           # the command torchrun starts
            line = "lstmkit " + line.split(" -m lstmkit ", 1)[1]
        if line.startswith("lstmkit ") or line.startswith("flock ") and " lstmkit " in line:
            line = line[line.index("lstmkit "):]
            line = re.split(r"\s+#|\s[|<>]|\s2>|&&", line)[0]
            out.append(line.strip())
    return out


def _parsers(parser, seen=None):
    import argparse
    seen = [] if seen is None else seen
    seen.append(parser)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                if sub not in seen:
                    _parsers(sub, seen)
    return seen


def documented_commands() -> list[str]:
    from lstmkit.cli import build_parser
    texts = ["\n".join(re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S))]
    texts += [f"{p.description or ''}\n{p.epilog or ''}" for p in _parsers(build_parser())]
    return sorted({c for t in texts for c in _command_lines(t)})


@pytest.mark.parametrize("command", documented_commands())
def test_every_documented_command_parses(command):
    """Every command the README and the --help texts show is one the command line accepts (its flags,
    choices and arguments); the examples of each job run in its own tests."""
    import shlex
    from lstmkit.cli import build_parser
    try:
        build_parser().parse_args(shlex.split(command)[1:])
    except SystemExit as e:                                          # --help exits 0; a parse error exits 2
        assert e.code == 0, f"{command!r} does not parse"
