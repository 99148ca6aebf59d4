"""Shared pieces of the charlm tests (imported as `charlm_helpers`): a small text file and a tiny, fast
configuration."""

from __future__ import annotations

from lstmkit.tasks.charlm import default_corpus

#: a configuration that trains in about a second on 2 cores
TINY = ["--hidden", "32", "--embed", "16", "--layers", "1", "--batch-size", "4", "--seq-len", "16",
        "--eval-chars", "400", "--sample-chars", "30", "--final-sample", "0", "--log-every", "5",
        "--warmup-steps", "5", "--lr", "0.01"]


def write_text(path, n=12_000):
    """The first ``n`` characters of the default corpus (prose and code) as a UTF-8 file."""
    path.write_text(default_corpus()[:n], encoding="utf-8")
    return path
