"""Gather the long-lag benchmark results (suite tables and single-task reports under
benchmarks/results/) into one markdown table: benchmarks/results/longlag-full.md.

Usage: .venv/bin/python benchmarks/longlag_table.py
"""

from __future__ import annotations

import json
import pathlib
import statistics

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
CELLS = ("lstm", "gru", "rnn")


def cell_text(runs: list[dict] | None) -> str:
    if not runs:
        return "not run"
    solved = [r for r in runs if r["solved"]]
    head = f"{len(solved)}/{len(runs)}"
    if not solved:
        return f"{head} (budget {max(r['sequences'] for r in runs):,} seq, {max(r['seconds'] for r in runs):.0f} s)"
    seqs = int(statistics.median(r["sequences"] for r in solved))
    secs = statistics.median(r["seconds"] for r in solved)
    learned = [r["learned_at"] for r in solved if r.get("learned_at") is not None]
    extra = f"; right from {int(statistics.median(learned)):,}" if learned else ""
    return f"{head}, {seqs:,} ({secs:.0f} s{extra})"


def test_text(runs: list[dict] | None) -> str:
    """The test error of the LSTM runs, as the paper reports it (wrong of n fresh sequences; MSE)."""
    if not runs:
        return "-"
    out = []
    for r in runs:
        t = r["test"]
        if "wrong" in t:
            s = f"{t['wrong']}/{t['of']} wrong"
        elif "wrong_test" in t:
            s = f"{t['wrong_train'] + t['wrong_test']}/{t['of_train'] + t['of_test']} strings wrong"
        else:
            s = f"{t.get('perfect_streams')}/{t.get('of')} perfect streams"
        if "mse" in t:
            s += f", MSE {t['mse']:.2g}"
        out.append(s)
    return "; ".join(out)


def main() -> None:
    rows: dict[str, dict] = {}
    for path in sorted(RESULTS.glob("longlag-full-*.json")):
        for row in json.loads(path.read_text())["rows"]:
            r = rows.setdefault(row["describe"], {"paper": row["paper"], "others": row["others"], "cells": {}})
            r["cells"].update(row["cells"])
    for path in sorted(RESULTS.glob("longlag-lstm-*.json")):
        rep = json.loads(path.read_text())
        first = rep["runs"][0]
        r = rows.setdefault(rep["task"], {"paper": first["paper"]["lstm"], "others": first["paper"]["others"],
                                          "cells": {}})
        r["cells"].setdefault(rep["cell"], rep["runs"])
    lines = ["| task | paper LSTM (sequences) | ours LSTM | LSTM test error | ours GRU | ours Elman RNN | "
             "paper: others |", "|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        cols = " | ".join([cell_text(r["cells"].get("lstm")), test_text(r["cells"].get("lstm"))]
                          + [cell_text(r["cells"].get(c)) for c in CELLS[1:]])
        lines.append(f"| {name} | {r['paper']} | {cols} | {r['others']} |")
    out = RESULTS / "longlag-full.md"
    out.write_text("# Long-lag experiments at the paper's settings\n\nCells: solved seeds/seeds, median "
                   "training sequences to the paper's criterion (median wall time; for the 10,000-successive "
                   "criteria, the median sequence from which every one was right).\n\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
