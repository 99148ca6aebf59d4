#!/usr/bin/env python3
"""Fixtures of the CLI trial: every input file the cases read, made deterministically, and the base runs.

    python scripts/trial/fixtures.py WORK                      # files only
    python scripts/trial/fixtures.py WORK --runs [--lstmkit PATH] [--jobs 2]   # and the base runs

Everything is synthetic (seeded generators): a play-like text, CoNLL-U sentences with plausible tags,
sentiment-like CSV/JSONL, a seasonal series, CTC-shaped .npz lines, and broken variants of each (empty,
binary, latin-1, BOM, truncated, wrong keys, NaN ...). Paths are relative to WORK, as the cases use them:

    shk.txt own.txt sst.csv sst.jsonl series.csv series_new.csv ewt_train.conllu ewt_dev.conllu ctc_test.npz
    f/...        broken and edge-case variants, config JSONs, a directory, symbolic links
    devnull      a character device like /dev/null (made with mknod; absent where that is not allowed)
    o/ runs_t/ runs_r/   output folders of the cases;  runs/   the base runs (short trainings of each job)
"""
from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import random
import shlex
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

# ---------------------------------------------------------------------------------------------------------
# base runs: the short trainings the cases sample, tag, evaluate, resume ... (same flags as the case bases)
CH = ("$L train charlm --text shk.txt --max-steps 4 --hidden 8 --layers 1 --embed 8 --batch-size 4 --seq-len 16 "
      "--eval-every 2 --log-every 2 --max-time 20s --final-sample 20 --sample-chars 10")
TG = ("$L train tagger --train ewt_train.conllu --dev ewt_dev.conllu --max-steps 4 --hidden 8 --layers 1 "
      "--word-dim 8 --char-dim 4 --char-hidden 4 --batch-size 4 --eval-every 2 --log-every 2 --max-time 20s")
CL = "$L train classify --max-steps 4 --hidden 8 --batch-size 4 --eval-every 2 --log-every 2 --max-time 20s"
CLT = ("$L train classify --data sst.csv --tokens word --max-steps 4 --hidden 8 --embed 8 --batch-size 4 "
       "--eval-every 2 --log-every 2 --max-time 20s")
CT = ("$L train ctc --max-steps 4 --hidden 8 --layers 1 --batch-size 4 --eval-every 2 --log-every 2 "
      "--val-lines 8 --test-lines 8 --max-time 20s")
FC = ("$L train forecast --max-steps 4 --hidden 8 --batch-size 4 --eval-every 2 --log-every 2 --window 12 "
      "--horizon 3 --no-baselines --max-time 20s")
FCC = ("$L train forecast --csv series.csv --target sales --max-steps 4 --hidden 8 --batch-size 4 --eval-every 2 "
       "--log-every 2 --window 12 --horizon 3 --no-baselines --max-time 20s")
BASE = dict(charlm=CH, tagger=TG, classify=CL, clstext=CLT, ctc=CT, forecast=FC, fcsv=FCC)

# the long-ish charlm training of the process-fault cases (kill -9 / Ctrl-C then --resume): the reference is
# this command run without interruption; MAX_STEPS is given separately so the concurrent case can go longer
FAULT = ("$L train charlm --text shk.txt --seed 3 --hidden 8 --layers 1 --embed 8 --batch-size 4 --seq-len 16 "
         "--eval-every 50 --log-every 10 --checkpoint-every 10 --eval-chars 200 --sample-chars 10 "
         "--final-sample 10 --max-time 300s")
FAULT_STEPS = 200

BASE_RUNS = {
    "charlm": CH + " --out runs/charlm",
    "charlm_own": CH.replace("--text shk.txt", "--text own.txt") + " --out runs/charlm_own",
    "tagger": TG + " --out runs/tagger",
    "tagger2": TG + " --seed 1 --out runs/tagger2",
    "tagger_xpos": TG + " --column xpos --out runs/tagger_xpos",
    "classify": CL + " --out runs/classify",
    "clstext": CLT + " --out runs/clstext",
    "ctc": CT + " --out runs/ctc",
    "forecast": FC + " --out runs/forecast",
    "fcsv": FCC + " --time month --covariates price --out runs/fcsv",
    "fcov": FCC + " --covariates price --out runs/fcov",
    "fault_ref": FAULT + f" --max-steps {FAULT_STEPS} --out runs/fault_ref",
}

# ---------------------------------------------------------------------------------------------------------
# text


def play_text(rng: random.Random, n_chars: int) -> str:
    """A play-like text: speaker names in capitals, then a few sentences, blank lines between turns."""
    names = ["First Citizen", "Second Citizen", "MENENIUS", "MARCIUS", "All", "COMINIUS", "VOLUMNIA", "Messenger"]
    words = ("the a my thy good noble lord lady city people bread corn gods hear speak know come go stay "
             "what why shall will must never ever love hate war peace honour friend enemy tongue heart hand "
             "eyes night day sword crown rome senate voice grief joy truth death life king queen fair foul "
             "well ill pray thee thou you we they him her their our sir madam grant deny give take").split()
    out, size = [], 0
    while size < n_chars:
        turn = [rng.choice(names) + ":"]
        for _ in range(rng.randint(1, 3)):
            n = rng.randint(3, 11)
            s = " ".join(rng.choice(words) for _ in range(n))
            s = s[0].upper() + s[1:] + rng.choice([".", ".", "!", "?", ",", ";"])
            if rng.random() < 0.2:
                s += " " + rng.choice(words).capitalize() + ", " + rng.choice(words) + "."
            turn.append(s)
        block = "\n".join(turn) + "\n\n"
        out.append(block)
        size += len(block)
    return "".join(out)[:n_chars]


# ---------------------------------------------------------------------------------------------------------
# CoNLL-U: small sentences from templates with plausible UPOS/XPOS/FEATS/HEAD/DEPREL

LEX = {
    "DET": [("the", "the", "DT", "Definite=Def|PronType=Art"), ("a", "a", "DT", "Definite=Ind|PronType=Art"),
            ("this", "this", "DT", "Number=Sing|PronType=Dem"), ("every", "every", "DT", "_")],
    "ADJ": [("big", "big", "JJ", "Degree=Pos"), ("old", "old", "JJ", "Degree=Pos"), ("red", "red", "JJ", "Degree=Pos"),
            ("quiet", "quiet", "JJ", "Degree=Pos"), ("happier", "happy", "JJR", "Degree=Cmp"),
            ("new", "new", "JJ", "Degree=Pos")],
    "NOUN": [("dog", "dog", "NN", "Number=Sing"), ("cat", "cat", "NN", "Number=Sing"), ("city", "city", "NN", "Number=Sing"),
             ("report", "report", "NN", "Number=Sing"), ("teacher", "teacher", "NN", "Number=Sing"),
             ("house", "house", "NN", "Number=Sing"), ("book", "book", "NN", "Number=Sing"),
             ("apples", "apple", "NNS", "Number=Plur"), ("forces", "force", "NNS", "Number=Plur"),
             ("students", "student", "NNS", "Number=Plur"), ("prices", "price", "NNS", "Number=Plur")],
    "PROPN": [("Anna", "Anna", "NNP", "Number=Sing"), ("Paris", "Paris", "NNP", "Number=Sing"),
              ("Google", "Google", "NNP", "Number=Sing"), ("Bob", "Bob", "NNP", "Number=Sing")],
    "PRON": [("she", "she", "PRP", "Case=Nom|Gender=Fem|Number=Sing|Person=3|PronType=Prs"),
             ("they", "they", "PRP", "Case=Nom|Number=Plur|Person=3|PronType=Prs"),
             ("I", "I", "PRP", "Case=Nom|Number=Sing|Person=1|PronType=Prs"),
             ("we", "we", "PRP", "Case=Nom|Number=Plur|Person=1|PronType=Prs")],
    "VERB": [("saw", "see", "VBD", "Mood=Ind|Tense=Past|VerbForm=Fin"), ("chased", "chase", "VBD", "Mood=Ind|Tense=Past|VerbForm=Fin"),
             ("reads", "read", "VBZ", "Mood=Ind|Number=Sing|Person=3|Tense=Pres|VerbForm=Fin"),
             ("found", "find", "VBD", "Mood=Ind|Tense=Past|VerbForm=Fin"),
             ("likes", "like", "VBZ", "Mood=Ind|Number=Sing|Person=3|Tense=Pres|VerbForm=Fin"),
             ("bought", "buy", "VBD", "Mood=Ind|Tense=Past|VerbForm=Fin"),
             ("visit", "visit", "VBP", "Mood=Ind|Tense=Pres|VerbForm=Fin")],
    "VERBI": [("slept", "sleep", "VBD", "Mood=Ind|Tense=Past|VerbForm=Fin"), ("arrived", "arrive", "VBD", "Mood=Ind|Tense=Past|VerbForm=Fin"),
              ("walked", "walk", "VBD", "Mood=Ind|Tense=Past|VerbForm=Fin"), ("waits", "wait", "VBZ", "Mood=Ind|Number=Sing|Person=3|Tense=Pres|VerbForm=Fin")],
    "AUX": [("has", "have", "VBZ", "Mood=Ind|Number=Sing|Person=3|Tense=Pres|VerbForm=Fin"),
            ("was", "be", "VBD", "Mood=Ind|Number=Sing|Person=3|Tense=Past|VerbForm=Fin"),
            ("will", "will", "MD", "VerbForm=Fin")],
    "VERBP": [("seen", "see", "VBN", "Tense=Past|VerbForm=Part"), ("found", "find", "VBN", "Tense=Past|VerbForm=Part"),
              ("read", "read", "VBN", "Tense=Past|VerbForm=Part")],
    "ADP": [("in", "in", "IN", "_"), ("near", "near", "IN", "_"), ("with", "with", "IN", "_"), ("to", "to", "IN", "_")],
    "ADV": [("quickly", "quickly", "RB", "_"), ("today", "today", "NN", "Number=Sing"), ("again", "again", "RB", "_"),
            ("never", "never", "RB", "_")],
    "CCONJ": [("and", "and", "CC", "_"), ("but", "but", "CC", "_")],
    "PUNCT": [(".", ".", ".", "_"), ("!", "!", ".", "_"), ("?", "?", ".", "_")],
}
GENRES = ["weblog", "email", "answers", "reviews", "newsgroup"]


def _np(rng, pos_adj=0.4):
    """A noun phrase: (tokens [(upos, entry)], index of its head within the phrase)."""
    if rng.random() < 0.2:
        return [("PROPN", rng.choice(LEX["PROPN"]))], 0
    toks = [("DET", rng.choice(LEX["DET"]))]
    if rng.random() < pos_adj:
        toks.append(("ADJ", rng.choice(LEX["ADJ"])))
    toks.append(("NOUN", rng.choice(LEX["NOUN"])))
    return toks, len(toks) - 1


def conllu_sentence(rng: random.Random) -> list[tuple]:
    """One sentence as rows (form, lemma, upos, xpos, feats, head, deprel); heads are 1-based, 0 = root."""
    toks, heads, rels = [], [], []

    def add_np(head_of_np_target, rel):
        np_toks, h = _np(rng)
        base = len(toks)
        for i, t in enumerate(np_toks):
            toks.append(t)
            if i == h:
                heads.append(head_of_np_target)
                rels.append(rel)
            else:
                heads.append(("rel", base + h))
                rels.append("det" if t[0] == "DET" else "amod")
        return base + h

    kind = rng.randrange(4)
    # subject
    if rng.random() < 0.35:
        toks.append(("PRON", rng.choice(LEX["PRON"])))
        heads.append("VERB")
        rels.append("nsubj")
    else:
        add_np("VERB", "nsubj")
    if kind == 0:       # transitive: S V O (PP)
        verb_i = len(toks)
        toks.append(("VERB", rng.choice(LEX["VERB"])))
        heads.append(0)
        rels.append("root")
        add_np(("rel", verb_i), "obj")
    elif kind == 1:     # intransitive with adverb
        verb_i = len(toks)
        toks.append(("VERB", rng.choice(LEX["VERBI"])))
        heads.append(0)
        rels.append("root")
        toks.append(("ADV", rng.choice(LEX["ADV"])))
        heads.append(("rel", verb_i))
        rels.append("advmod")
    elif kind == 2:     # aux + participle + object
        toks.append(("AUX", rng.choice(LEX["AUX"])))
        heads.append("VERB")
        rels.append("aux")
        verb_i = len(toks)
        toks.append(("VERB", rng.choice(LEX["VERBP"])))
        heads.append(0)
        rels.append("root")
        add_np(("rel", verb_i), "obj")
    else:               # intransitive + PP
        verb_i = len(toks)
        toks.append(("VERB", rng.choice(LEX["VERBI"])))
        heads.append(0)
        rels.append("root")
    if rng.random() < 0.5:
        toks.append(("ADP", rng.choice(LEX["ADP"])))
        adp_i = len(toks) - 1
        heads.append(None)
        rels.append("case")
        noun_i = add_np(("rel", verb_i), "obl")
        heads[adp_i] = ("rel", noun_i)
    if rng.random() < 0.15:        # coordination: "and V-ed"
        toks.append(("CCONJ", rng.choice(LEX["CCONJ"])))
        heads.append(None)
        rels.append("cc")
        cc_i = len(toks) - 1
        toks.append(("VERB", rng.choice(LEX["VERBI"])))
        heads.append(("rel", verb_i))
        rels.append("conj")
        heads[cc_i] = ("rel", len(toks) - 1)
    toks.append(("PUNCT", rng.choice(LEX["PUNCT"])))
    heads.append(("rel", verb_i))
    rels.append("punct")
    rows = []
    for i, ((upos, (form, lemma, xpos, feats)), h, r) in enumerate(zip(toks, heads, rels)):
        if h == "VERB":
            h = verb_i + 1
        elif isinstance(h, tuple):
            h = h[1] + 1
        if i == 0:
            form = form[0].upper() + form[1:]
        rows.append((form, lemma, upos, xpos, feats, h, r))
    return rows


def conllu_text(rng: random.Random, n_sent: int, doc_prefix: str) -> str:
    out = []
    for k in range(n_sent):
        genre = GENRES[k % len(GENRES)]
        doc = f"{genre}-{doc_prefix}{k // 5:03d}"
        if k % 5 == 0:
            out.append(f"# newdoc id = {doc}")
        rows = conllu_sentence(rng)
        text = ""
        for j, row in enumerate(rows):
            text += row[0]
            nxt = rows[j + 1][2] if j + 1 < len(rows) else None
            if nxt not in ("PUNCT", None):
                text += " "
        out.append(f"# sent_id = {doc}-{k:04d}")
        out.append(f"# text = {text}")
        for j, (form, lemma, upos, xpos, feats, head, rel) in enumerate(rows):
            nxt = rows[j + 1][2] if j + 1 < len(rows) else None
            misc = "SpaceAfter=No" if nxt == "PUNCT" else "_"
            deps = f"{head}:{rel}"
            out.append("\t".join([str(j + 1), form, lemma, upos, xpos, feats, str(head), rel, deps, misc]))
        out.append("")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------------------
# classification text, series


def review_rows(rng: random.Random, n: int) -> list[tuple[str, int]]:
    pos = "good great fine lovely moving funny sharp warm clever beautiful honest fresh".split()
    neg = "dull flat tired boring clumsy hollow labored silly bland weak stale cold".split()
    fill = "the film movie story cast plot director script acting characters ending and but with a its".split()
    rows = []
    for i in range(n):
        label = rng.randrange(2)
        bag = pos if label else neg
        words = [rng.choice(fill) for _ in range(rng.randint(2, 8))]
        for _ in range(rng.randint(1, 2)):
            words.insert(rng.randrange(len(words) + 1), rng.choice(bag))
        if i % 9 == 0:
            words.insert(2, ",")
        text = " ".join(words)
        if i % 13 == 0:
            text = 'a "' + text + '" kind of thing'
        rows.append((text, label))
    return rows


def csv_field(s: str) -> str:
    return '"' + s.replace('"', '""') + '"' if any(c in s for c in ',"\n') else s


def series(start: int, n: int, rng: random.Random) -> list[str]:
    rows = []
    for m in range(start, start + n):
        sales = 10 + 3 * math.sin(2 * math.pi * m / 12) + 0.02 * m + rng.gauss(0, 0.3)
        price = 1 + 0.1 * math.cos(2 * math.pi * m / 12 + 0.5) + rng.gauss(0, 0.005)
        rows.append(f"{m},{sales:.3f},{price:.3f}")
    return rows


# ---------------------------------------------------------------------------------------------------------


def write(path: pathlib.Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)


def make_fixtures(work: str | os.PathLike) -> pathlib.Path:
    """Write every fixture file under ``work`` (made if missing); the same bytes on every call."""
    import numpy as np

    W = pathlib.Path(work).resolve()
    for d in ("f/adir", "o", "runs_t", "runs_r", "runs"):
        (W / d).mkdir(parents=True, exist_ok=True)
    F = W / "f"
    rng = random.Random(1234)

    # --- charlm text
    shk = play_text(random.Random(1), 20000)
    write(W / "shk.txt", shk)
    write(W / "own.txt", shk)                       # the text of runs/charlm_own (a case changes it)
    write(F / "shk_orig.txt", shk)                  # pristine copy: cases check that outputs never touch inputs
    latin = "Café crème, naïve façade. Über straße à la mode.\n" * 200
    write(F / "latin1.txt", latin.encode("latin-1"))
    write(F / "latin1_utf8.txt", latin)
    write(F / "bom.txt", b"\xef\xbb\xbf" + b"hello world\n" * 100)
    write(F / "tiny.txt", "hello")
    write(F / "one.txt", "x")
    write(F / "onechar.txt", "a" * 5000)
    write(F / "crlf.txt", shk[:5000].replace("\n", "\r\n"))
    # tag input
    write(F / "sent.txt", "I saw her duck\nThe cat sat on the mat .\n\nWhere is it ?\n")
    write(F / "tabsent.txt", "I\tsaw her\n")
    write(F / "longsent.txt", "word " * 5000)

    # --- binary / empty variants of every extension
    brng = random.Random(99)
    blob = bytes([0x00, 0xFF, 0xFE]) + bytes(brng.randrange(256) for _ in range(4096))
    for ext in ("txt", "csv", "json", "jsonl", "npy", "npz", "conllu"):
        write(F / f"bin.{ext}", blob)
    for ext in ("txt", "csv", "json", "jsonl", "npy", "npz", "conllu", "tsv"):
        write(F / f"empty.{ext}", b"")

    # --- CoNLL-U
    train = conllu_text(random.Random(7), 80, "train")
    dev = conllu_text(random.Random(8), 12, "dev")
    write(W / "ewt_train.conllu", train)
    write(W / "ewt_dev.conllu", dev)
    cut = len(train) // 2
    write(F / "trunc.conllu", train[:cut])          # cut in the middle of a token line
    write(F / "comments.conllu", "# sent_id = 1\n# text = nothing\n\n")
    write(F / "garbled.conllu", "1\tHello\thello\tINTJ\n2\tworld\n\n")
    write(F / "latin1.conllu", "# text = Café\n1\tCafé\tcafé\tNOUN\tNN\t_\t0\troot\t_\t_\n\n".encode("latin-1"))
    write(F / "crlf.conllu", dev.replace("\n", "\r\n"))
    # valid CoNLL-U with a multiword token line and an empty node (both must be skipped by readers)
    write(F / "mwt.conllu", (
        "# sent_id = mwt-1\n# text = I don't know.\n"
        "1\tI\tI\tPRON\tPRP\tCase=Nom|Number=Sing|Person=1|PronType=Prs\t4\tnsubj\t4:nsubj\t_\n"
        "2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n"
        "2\tdo\tdo\tAUX\tVBP\tMood=Ind|Tense=Pres|VerbForm=Fin\t4\taux\t4:aux\t_\n"
        "3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t4:advmod\t_\n"
        "4\tknow\tknow\tVERB\tVB\tVerbForm=Inf\t0\troot\t0:root\tSpaceAfter=No\n"
        "4.1\tit\tit\tPRON\tPRP\t_\t_\t_\t4:obj\t_\n"
        "5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t4:punct\t_\n\n") + train)

    # --- classify: text
    rows = review_rows(random.Random(3), 120)
    write(W / "sst.csv", "text,label\n" + "".join(f"{csv_field(t)},{y}\n" for t, y in rows))
    write(W / "sst.jsonl", "".join(json.dumps({"text": t, "label": str(y)}) + "\n" for t, y in rows[:100]))
    write(F / "sst.tsv", "sentence\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in rows[:50]))
    write(F / "header_only.csv", "text,label\n")
    write(F / "nolabel.csv", "text\nhello\nworld\n")
    write(F / "onelabel.csv", "text,label\n" + "".join(f"sample {i},1\n" for i in range(50)))
    write(F / "trunc.csv", 'text,label\nhello world,1\nbad row\n"unterminated,0\n')
    write(F / "trunc.jsonl", '{"text":"hi","label":1}\n{"text":"yo","lab')
    write(F / "notobj.jsonl", '[1,2,3]\n"str"\n')
    write(F / "latin1.csv", ("text,label\n" + "".join(f"café numéro {i},{(i * 7) % 3 % 2}\n" for i in range(60))).encode("latin-1"))
    write(F / "latin1_utf8.csv", "text,label\n" + "".join(f"café numéro {i},{7 if i % 3 == 1 else 0}\n" for i in range(60)))
    write(F / "cls_missing.csv", "text,label\n" + "".join(f"{csv_field(t)},{'' if i == 5 else y}\n" for i, (t, y) in enumerate(rows[:60])))
    write(F / "bom.csv", "\ufefftext,label\n" + "".join(f"{csv_field(t)},{y}\n" for t, y in rows[:60]))
    nrng = random.Random(5)
    write(F / "numseq.csv", "label," + ",".join(f"s{j}" for j in range(10)) + "\n" + "".join(
        f"{i % 2}," + ",".join(f"{math.sin(j * (1 + i % 2)) + nrng.gauss(0, 0.1):.4f}" for j in range(10)) + "\n"
        for i in range(60)))
    # classify: numeric .npy
    g = np.random.default_rng(0)
    seqs = g.standard_normal((40, 10, 3)).astype(np.float32)
    np.save(F / "seqs.npy", seqs)
    bad = seqs.copy()
    bad[0] = np.nan
    np.save(F / "seqs_nan.npy", bad)
    np.save(F / "labels.npy", g.integers(0, 2, 40).astype(np.int64))
    np.save(F / "labels_float.npy", g.standard_normal(40))
    np.save(F / "labels_short.npy", g.integers(0, 2, 10).astype(np.int64))
    np.save(F / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    raw = (F / "seqs.npy").read_bytes()
    write(F / "trunc.npy", raw[: len(raw) // 2])

    # --- forecast CSVs
    srng = random.Random(11)
    hist = series(0, 200, srng)
    new = series(200, 60, srng)
    head = "month,sales,price\n"
    write(W / "series.csv", head + "\n".join(hist) + "\n")
    write(W / "series_new.csv", head + "\n".join(new) + "\n")

    def variant(cell_row: str) -> str:
        lines = [head.strip()] + new
        lines[11] = cell_row.format(m=new[10].split(",")[0])
        return "\n".join(lines) + "\n"

    write(F / "fc_inf.csv", variant("{m},inf,1.0"))
    write(F / "fc_nancell.csv", variant("{m},nan,1.0"))
    write(F / "fc_missing.csv", variant("{m},,1.0"))
    write(F / "fc_nonnum.csv", variant("{m},abc,1.0"))
    write(F / "fc_ragged.csv", variant("{m},1.0"))
    write(F / "fc_const.csv", head + "".join(f"{m},5,1\n" for m in range(200)))
    write(F / "fc_dupcol.csv", "month,sales,sales,price\n" + "".join(f"{m},{m},{m},1\n" for m in range(60)))
    write(F / "fc_nocol.csv", "month,revenue\n" + "".join(f"{m},{m}\n" for m in range(60)))
    write(F / "fc_short.csv", head + "1,2,3\n2,3,4\n")
    write(F / "nocov.csv", "month,sales\n" + "".join(",".join(r.split(",")[:2]) + "\n" for r in new))

    # --- CTC lines (.npz: x (lines, steps, 8), lengths, targets padded with -1, target_lengths)
    c = np.random.default_rng(2)
    n, T = 10, 63
    x = c.random((n, T, 8)).astype(np.float32)
    lengths = c.integers(40, T + 1, n).astype(np.int64)
    tl = c.integers(3, 7, n).astype(np.int64)
    targets = np.full((n, 6), -1, dtype=np.int64)
    for i in range(n):
        targets[i, : tl[i]] = c.integers(0, 10, tl[i])
    good = dict(x=x, lengths=lengths, targets=targets, target_lengths=tl)
    np.savez(W / "ctc_test.npz", **good)
    np.savez(F / "badtargets.npz", **dict(good, targets=np.where(targets >= 0, targets + 20, 19)))
    xn = x.copy()
    xn[0, 0, 0] = np.nan
    np.savez(F / "nan.npz", **dict(good, x=xn))
    np.savez(F / "neglen.npz", **dict(good, lengths=np.full(n, -5, dtype=np.int64)))
    np.savez(F / "wrongfeat.npz", **dict(good, x=x[:, :, :5].copy()))
    np.savez(F / "wrongkeys.npz", a=np.zeros(3))
    np.savez(F / "zerolines.npz", x=x[:0], lengths=lengths[:0], targets=targets[:0], target_lengths=tl[:0])
    raw = (W / "ctc_test.npz").read_bytes()
    write(F / "trunc.npz", raw[: len(raw) // 2])

    # --- config JSONs for --config
    write(F / "cfg_bad.json", '{"max_steps": 3,')
    write(F / "cfg_list.json", "[1,2]")
    write(F / "cfg_unknown.json", '{"max_stepz": 3}')
    write(F / "cfg_wrongtype.json", '{"max_steps": "three"}')
    write(F / "cfg_nan.json", '{"lr": NaN}')
    write(F / "cfg_neg.json", '{"hidden": -4}')
    write(F / "cfg_bool.json", '{"max_steps": true}')
    write(F / "cfg_float_int.json", '{"max_steps": 3.7}')
    tagger_cfg = {"task": "tagger", "seed": 0, "max_steps": 4, "max_time": 20.0, "lr": 0.006,
                  "train": str(W / "ewt_train.conllu"), "dev": str(W / "ewt_dev.conllu"), "column": "upos",
                  "batch_size": 4, "hidden": 8, "layers": 1, "word_dim": 8, "char_dim": 4, "char_hidden": 4}
    write(F / "cfg_othertask.json", json.dumps(tagger_cfg, indent=2))
    # configs whose values no flag overrides (the follow-up round)
    basecfg = dict(text=[str(W / "shk.txt")], max_steps=4, hidden=8, layers=1, embed=8, batch_size=4, seq_len=16,
                   eval_every=2, log_every=2, max_time=20, final_sample=20, sample_chars=10)
    for nm, kv in CFG2.items():
        if nm == "text_str":                        # a string where a list of files is expected
            kv = {"text": str(W / "shk.txt")}
        cfg = dict(basecfg, **kv)
        if nm != "task_key_missing":
            cfg = {"task": "charlm", **cfg}
        txt = json.dumps(cfg)
        if nm == "huge_float":                      # 1e400: JSON that parses to inf
            txt = txt.replace('"lr": null', '"lr": 1e400')
        write(F / f"cfg2_{nm}.json", txt)

    # --- links, special files
    for name, target in (("link_shk.txt", "../shk.txt"), ("dangling.txt", "nowhere/x.txt"), ("loop.txt", "loop.txt"),
                         ("link_adir", "adir")):
        p = F / name
        if p.is_symlink() or p.exists():
            p.unlink()
        os.symlink(target, p)
    fifo = F / "fifo"
    if not fifo.exists():
        os.mkfifo(fifo)
    dn = W / "devnull"
    if not os.path.lexists(dn):
        try:
            os.mknod(dn, stat.S_IFCHR | 0o666, os.makedev(1, 3))
            os.chmod(dn, 0o666)
        except (PermissionError, OSError):
            if os.geteuid() != 0:                   # a non-root user cannot have /dev/null replaced anyway
                os.symlink("/dev/null", dn)
    return W


# values of the cfg2_* config files (shared with cases.py): each replaces one setting of a valid config
CFG2 = {
    "str_int": {"max_steps": "three"}, "bool_int": {"max_steps": True}, "float_int": {"max_steps": 3.7},
    "neg_hidden": {"hidden": -4}, "null_lr": {"lr": None}, "str_float": {"lr": "0.01"}, "list_hidden": {"hidden": [8]},
    "text_str": None, "cell_bogus": {"cell": "bogus"}, "huge_float": {"lr": None},
    "task_key_missing": {}, "maxtime_str": {"max_time": "20s"}, "dropout_str": {"dropout": "nan"},
}


# ---------------------------------------------------------------------------------------------------------
# base runs


def run_cmd(cmd: str, work: pathlib.Path, lstmkit: str, timeout: int = 300) -> tuple[int, float, str]:
    full = cmd.replace("$L ", shlex.quote(lstmkit) + " ")
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    t0 = time.time()
    p = subprocess.run(["bash", "-c", f"timeout -k 5 {timeout} {full}"], cwd=work, env=env,
                       stdin=subprocess.DEVNULL, capture_output=True)
    return p.returncode, time.time() - t0, p.stderr.decode("utf-8", "replace")


def make_runs(work, lstmkit: str, names=None, jobs: int = 2, log=print) -> dict[str, int]:
    """Train the base runs (all, or ``names``) under ``work``/runs; an existing complete run is kept."""
    W = pathlib.Path(work).resolve()
    names = [n for n in BASE_RUNS if names is None or n in names]
    todo = [n for n in names if not (W / "runs" / n / "checkpoints" / "last.json").exists()]
    results = {}

    def one(n):
        import shutil
        shutil.rmtree(W / "runs" / n, ignore_errors=True)
        rc, dt, err = run_cmd(BASE_RUNS[n], W, lstmkit)
        return n, rc, dt, err

    with ThreadPoolExecutor(max(1, jobs)) as ex:
        for n, rc, dt, err in ex.map(one, todo):
            results[n] = rc
            tail = err.strip().splitlines()[-1:] if rc else []
            log(f"base run {n}: rc={rc} {dt:.1f}s {tail[0][:200] if tail else ''}")
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("work")
    ap.add_argument("--runs", action="store_true", help="also train the base runs into WORK/runs")
    ap.add_argument("--lstmkit", default=str(pathlib.Path(__file__).resolve().parents[2] / ".venv/bin/lstmkit"))
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args(argv)
    W = make_fixtures(a.work)
    print(f"fixtures in {W}")
    if a.runs:
        bad = {n: rc for n, rc in make_runs(W, a.lstmkit, jobs=a.jobs).items() if rc}
        if bad:
            print(f"base runs failed: {bad}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
