#!/usr/bin/env python3
"""Adversarial trial of the lstmkit CLI: make the fixtures and base runs, run every case, report.

    python scripts/trial/run.py [--work DIR] [--jobs 2] [--only PREFIX ...] [--lstmkit PATH] [--timeout 120]

Writes WORK/results.jsonl (one JSON object per case) and WORK/summary.txt, prints one PASS/FAIL line per case
and a summary; exits 1 when any case fails. See README.md beside this file.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
import types
from concurrent.futures import ThreadPoolExecutor, as_completed

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import fixtures  # noqa: E402
import cases as cases_mod  # noqa: E402

TRACEBACK = "Traceback (most recent call last)"
OUT_FLAGS = ("--out", "--json", "--plot", "--png-dir")


def interpreter_of(exe: str) -> str:
    """The Python that runs the lstmkit script (its #! line), for the checks that import numpy."""
    try:
        first = pathlib.Path(exe).read_bytes()[:256].split(b"\n")[0].decode()
        if first.startswith("#!") and "python" in first:
            return first[2:].strip().split()[0]
    except OSError:
        pass
    return sys.executable


def expand(s: str | None, ctx) -> str | None:
    if s is None:
        return None
    s = re.sub(r"\$L\b", shlex.quote(ctx.lstmkit), s)
    s = re.sub(r"\$PY\b", shlex.quote(ctx.py), s)
    return s.replace("{W}", str(ctx.work))


def output_paths(cmd: str) -> list[str]:
    """Values of --out/--json/--plot/--png-dir in a command (what an 'err' case must not leave behind)."""
    try:
        toks = shlex.split(cmd)
    except ValueError:
        return []
    paths = []
    for i, t in enumerate(toks[:-1]):
        if t in OUT_FLAGS:
            paths.append(toks[i + 1])
    for t in toks:
        for f in OUT_FLAGS:
            if t.startswith(f + "="):
                paths.append(t.split("=", 1)[1])
    return [p for p in paths if p and not p.startswith("/dev/")]


class FifoReader(threading.Thread):
    """Reads a FIFO to its end while the command writes it; unblocked by a dummy writer if nobody writes."""

    def __init__(self, path: pathlib.Path):
        super().__init__(daemon=True)
        self.path, self.data, self.error = path, b"", None

    def run(self):
        try:
            with open(self.path, "rb") as f:
                self.data = f.read()
        except OSError as e:
            self.error = str(e)

    def finish(self, timeout=30):
        if self.is_alive():
            try:                                          # a reader blocked in open(): give it a writer and EOF
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
                os.close(fd)
            except OSError:
                pass
        self.join(timeout)


class FifoWriter(threading.Thread):
    def __init__(self, path: pathlib.Path, data: bytes):
        super().__init__(daemon=True)
        self.path, self.data = path, data

    def run(self):
        try:
            with open(self.path, "wb") as f:
                f.write(self.data)
        except OSError:
            pass

    def finish(self, timeout=10):
        if self.is_alive():
            try:                                          # a writer blocked in open(): give it a reader
                fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
                os.close(fd)
            except OSError:
                pass
        self.join(timeout)


def make_fifo(path: pathlib.Path):
    if os.path.lexists(path) and not stat.S_ISFIFO(os.lstat(path).st_mode):
        os.unlink(path)
    if not os.path.lexists(path):
        os.mkfifo(path)


def lines(s: str) -> list[str]:
    return s.splitlines()


def run_case(case: dict, ctx) -> dict:
    t0 = time.time()
    exp = case.get("expect", "err")
    problems, detail, check = [], None, None
    if case.get("fn"):
        try:
            r = case["fn"](ctx)
        except Exception as e:                            # a bug of the trial itself: say so, keep going
            import traceback
            r = dict(rc=-1, out="", err="", problems=[f"trial error: {e!r}"], detail={"trial_tb": traceback.format_exc()})
        rc, out, err, problems, detail = r["rc"], r["out"], r["err"], list(r["problems"]), r.get("detail")
        if TRACEBACK in out or TRACEBACK in err:
            problems.insert(0, "traceback")
    else:
        W = ctx.work
        if case.get("setup"):
            subprocess.run(["bash", "-c", expand(case["setup"], ctx)], cwd=W, env=ctx.env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
        cmd = expand(case["cmd"], ctx)
        outs = output_paths(cmd)
        pre = {p: os.path.lexists(W / p) for p in outs}
        reader = writer = None
        if case.get("fifo_out"):
            fp = W / case["fifo_out"]
            make_fifo(fp)
            reader = FifoReader(fp)
            reader.start()
        if case.get("fifo_in"):
            fp, src = W / case["fifo_in"][0], W / case["fifo_in"][1]
            make_fifo(fp)
            writer = FifoWriter(fp, src.read_bytes())
            writer.start()
        tmo = case.get("timeout", ctx.timeout)
        if case.get("shell"):
            full = f"timeout -k 5 {tmo} bash -c {shlex.quote(cmd)}"
        elif case.get("signal"):
            full = f"timeout -k 10 {case['signal']} {tmo} {cmd}"
        else:
            full = f"timeout -k 5 {tmo} {cmd}"
        stdin = open(W / case["stdin"], "rb") if case.get("stdin") else subprocess.DEVNULL
        try:
            p = subprocess.run(["bash", "-c", full], cwd=W, env=ctx.env, stdin=stdin, capture_output=True)
        finally:
            if stdin is not subprocess.DEVNULL:
                stdin.close()
        rc = p.returncode
        out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
        if reader:
            reader.finish()
            (W / (case["fifo_out"] + ".got")).write_bytes(reader.data)
            if not stat.S_ISFIFO(os.lstat(W / case["fifo_out"]).st_mode):
                problems.append(f"{case['fifo_out']} is no longer a FIFO")
        if writer:
            writer.finish()
        if TRACEBACK in out or TRACEBACK in err:
            problems.append("traceback")
        el = lines(err)
        if exp == "err":
            want = case.get("rc", 2)
            if rc != want:
                problems.append(f"rc={rc} want {want}")
            if len(el) != 1:
                problems.append(f"stderr_lines={len(el)}")
            left = [p_ for p_ in outs if not pre[p_] and os.path.lexists(W / p_)]
            if case.get("nodir") and os.path.lexists(W / case["nodir"]) and case["nodir"] not in left:
                left.append(case["nodir"])
            if left:
                problems.append(f"left {' '.join(left)}")
        elif exp == "ok":
            if rc != 0:
                problems.append(f"rc={rc} want 0")
        elif exp == "any":
            if rc not in case.get("rcs", (0, 2)):
                problems.append(f"rc={rc} want one of {tuple(case.get('rcs', (0, 2)))}")
        elif exp == "int":
            if rc != 130:
                problems.append(f"rc={rc} want 130")
            if len(el) > 1:
                problems.append(f"stderr_lines={len(el)} want <= 1")
        if case.get("check"):
            q = subprocess.run(["bash", "-c", expand(case["check"], ctx)], cwd=W, env=ctx.env, capture_output=True,
                               stdin=subprocess.DEVNULL, timeout=120)
            check = [q.returncode, (q.stdout + q.stderr).decode("utf-8", "replace").strip()[-400:]]
            if q.returncode != 0:
                problems.append("check failed: " + (case["check"][:150]) + (f" ({check[1][:150]})" if check[1] else ""))
    el, ol = lines(err), lines(out)
    r = dict(name=case["name"], group=case.get("group"), cmd=case["cmd"], stdin=case.get("stdin"), expect=exp, rc=rc,
             secs=round(time.time() - t0, 1), n_err=len(el), err_first=el[0] if el else "", err_last=el[-1] if el else "",
             n_out=len(ol), out_first=ol[0] if ol else "", out_last=ol[-1] if ol else "", check=check,
             problems=problems, ok=not problems, err_tail=err[-3000:] if problems else "")
    if detail:
        r["detail"] = detail
    if case.get("keep_stdout"):
        r["stdout"] = out
    return r


def needed_runs(selected: list[dict]) -> list[str]:
    names = set()
    for c in selected:
        for k in ("cmd", "setup", "check"):
            names.update(re.findall(r"(?<![\w/])runs/(\w+)", c.get(k) or ""))
        names.update(c.get("needs", []))
    return [n for n in fixtures.BASE_RUNS if n in names]


def flag_coverage(results: list[dict], all_cases: list[dict]) -> dict[str, list[str]]:
    """For each --help case: the flags its output lists that no case's command for that subcommand uses."""
    missing = {}
    for r in results:
        h = next((c.get("help_of") for c in all_cases if c["name"] == r["name"]), None)
        if h is None or not r.get("stdout"):
            continue
        usage = r["stdout"].split("\n\n")[0]                 # the usage block lists every flag once
        flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*[a-z0-9])", usage)) - {"--help", "--version"}
        prefix = f"$L {h}".rstrip()
        used = " ".join(c["cmd"] for c in all_cases if isinstance(c.get("cmd"), str) and not c.get("help_of")
                        and (c["cmd"].startswith(prefix + " ") or c["cmd"] == prefix
                             or (h.startswith("train ") and "$L train " + h.split()[1] in c["cmd"])
                             or (h == "train" and "$L train " in c["cmd"])))
        gone = sorted(f for f in flags if not re.search(re.escape(f) + r"(?![\w-])", used))
        if gone:
            missing[h or "(main)"] = gone
    return missing


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", help="work folder (default: a fresh temporary folder); kept afterwards")
    ap.add_argument("--jobs", type=int, default=2, help="cases run in parallel (default 2)")
    ap.add_argument("--only", nargs="+", metavar="PREFIX", help="only cases whose name starts with PREFIX or whose group is PREFIX")
    ap.add_argument("--lstmkit", default=str(HERE.parents[1] / ".venv" / "bin" / "lstmkit"), help="the lstmkit executable")
    ap.add_argument("--timeout", type=int, default=120, help="seconds per case unless it sets its own (default 120)")
    ap.add_argument("--list", action="store_true", help="list the selected cases and exit")
    a = ap.parse_args(argv)

    selected = cases_mod.CASES
    if a.only:
        selected = [c for c in selected if any(c["name"].startswith(o) or c.get("group") == o for o in a.only)]
    if a.list:
        for c in selected:
            print(f"{c['name']:40s} {c.get('group', ''):12s} {c.get('expect', 'err'):4s} {c['cmd']}")
        print(f"{len(selected)} cases")
        return 0
    if not selected:
        print("no case selected", file=sys.stderr)
        return 2
    lstmkit = str(pathlib.Path(a.lstmkit).resolve())
    if not os.access(lstmkit, os.X_OK):
        print(f"--lstmkit {lstmkit} is not an executable", file=sys.stderr)
        return 2
    work = pathlib.Path(a.work).resolve() if a.work else pathlib.Path(tempfile.mkdtemp(prefix="lstmkit-trial-"))
    work.mkdir(parents=True, exist_ok=True)
    marker = work / ".lstmkit-trial"
    if any(work.iterdir()) and not marker.exists():
        print(f"--work {work} is a non-empty folder the trial did not make; give a new or empty one", file=sys.stderr)
        return 2
    for p in work.iterdir():                      # a reused work folder: everything but the base runs goes
        if p.name not in ("runs", marker.name):
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    marker.touch()
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    env.setdefault("MPLBACKEND", "Agg")
    py = interpreter_of(lstmkit)
    env.update(L=lstmkit, PY=py)
    ctx = types.SimpleNamespace(work=work, lstmkit=lstmkit, py=py, env=env, timeout=a.timeout)
    t_start = time.time()
    print(f"work folder: {work}\nlstmkit: {lstmkit}\ncases: {len(selected)}, jobs: {a.jobs}", flush=True)

    # fixtures with the interpreter that has numpy (this one, or lstmkit's)
    try:
        import numpy  # noqa: F401
        fixtures.make_fixtures(work)
    except ImportError:
        subprocess.run([py, str(HERE / "fixtures.py"), str(work)], check=True)
    if not os.path.lexists(work / "devnull"):
        print("note: could not make WORK/devnull (mknod refused); the devnull cases will fail", flush=True)
    runs = needed_runs(selected)
    if runs:
        print(f"base runs: {' '.join(runs)}", flush=True)
        bad = {n: rc for n, rc in fixtures.make_runs(work, lstmkit, runs, a.jobs, log=lambda s: print(s, flush=True)).items() if rc}
        if bad:
            print(f"WARNING: base runs failed {bad}: the cases that use them will fail too", flush=True)
    t_cases = time.time()

    res_path = work / "results.jsonl"
    results = []
    lock = threading.Lock()

    def record(r):
        with lock:
            results.append(r)
            with open(res_path, "a") as fo:
                fo.write(json.dumps(r) + "\n")
            tag = "PASS" if r["ok"] else "FAIL"
            extra = "" if r["ok"] else f" rc={r['rc']} {r['problems']} | {r['err_last'][:160]}"
            print(f"{tag} {r['name']} ({r['secs']}s){extra}", flush=True)

    serial = [c for c in selected if c.get("serial")]
    par = [c for c in selected if not c.get("serial")]
    par.sort(key=lambda c: -c.get("timeout", 0) if c.get("timeout", 0) >= 30 else 0)   # long ones first
    with ThreadPoolExecutor(max(1, a.jobs)) as ex:
        futs = [ex.submit(run_case, c, ctx) for c in par]
        for f in as_completed(futs):
            record(f.result())
    for c in serial:
        record(run_case(c, ctx))

    # summary
    dt = time.time() - t_start
    fails = [r for r in results if not r["ok"]]
    order = {c["name"]: i for i, c in enumerate(cases_mod.CASES)}
    fails.sort(key=lambda r: order.get(r["name"], 0))
    by = {}
    for r in results:
        k = by.setdefault(r["expect"], [0, 0])
        k[0 if r["ok"] else 1] += 1
    out = [f"\n==== summary: {len(results)} cases, {len(results) - len(fails)} PASS, {len(fails)} FAIL "
           f"({dt / 60:.1f} min: fixtures and base runs {(t_cases - t_start) / 60:.1f}, cases {(time.time() - t_cases) / 60:.1f})",
           "by expectation: " + ", ".join(f"{k} {v[0]} pass / {v[1]} fail" for k, v in sorted(by.items()))]
    if fails:
        out.append("\nFAIL:")
        for r in fails:
            out.append(f"- {r['name']} [{r['expect']}] rc={r['rc']}: {'; '.join(r['problems'])[:400]}")
            out.append(f"    cmd: {r['cmd']}")
            if r["n_err"]:
                out.append(f"    stderr ({r['n_err']} lines) first: {r['err_first'][:300]}")
                if r["n_err"] > 1:
                    out.append(f"    stderr last: {r['err_last'][:300]}")
    cov = flag_coverage(results, cases_mod.CASES)
    if cov:
        out.append("\nflags in --help that no case uses (information):")
        for h, fl in cov.items():
            out.append(f"  {h}: {' '.join(fl)}")
    out.append(f"\nresults: {res_path}")
    text = "\n".join(out)
    print(text, flush=True)
    (work / "summary.txt").write_text(text + "\n")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
