"""The data of ``lstmkit train translate``: Pairs, tab-separated files, grouped splits, generated numbers
and dates (num2words, babel: skipped with the reason when absent)."""

from __future__ import annotations

import collections
import datetime
import sys

import numpy as np
import pytest

from lstmkit.tasks.translate.data import (DEFAULT_LOCALES, Pairs, date_formats, date_pairs, number_pairs,
                                          read_tsv_pairs, split_dates, split_numbers, split_pairs)
from lstmkit.tasks.translate.generated import unambiguous_pattern

SKIP_N2W = "number pairs need num2words (pip install 'lstmkit[seq2seq]')"
SKIP_BABEL = "date pairs need babel (pip install 'lstmkit[seq2seq]')"


@pytest.fixture
def n2w():
    return pytest.importorskip("num2words", reason=SKIP_N2W)


@pytest.fixture
def babel_dates():
    pytest.importorskip("babel", reason=SKIP_BABEL)
    import babel.dates
    return babel.dates


# ---------------------------------------------------------------------------------------------- Pairs

def test_pairs_basics_and_errors():
    p = Pairs(("a", "b", "a"), ("1", "2", "1"))
    assert isinstance(p.sources, list) and len(p) == 3 and list(p) == [("a", "1"), ("b", "2"), ("a", "1")]
    assert p.subset(np.array([2, 1])) == Pairs(["a", "b"], ["1", "2"])
    assert p.swapped() == Pairs(["1", "2", "1"], ["a", "b", "a"])
    assert p.dedupe() == Pairs(["a", "b"], ["1", "2"])
    with pytest.raises(ValueError, match="same length, got 2 sources and 1 targets"):
        Pairs(["a", "b"], ["1"])
    with pytest.raises(ValueError, match="max_length must be >= 1, got 0"):
        p.filter_length(0)


def test_to_tsv_round_trip_atomic_and_refuses_tabs(tmp_path):
    p = Pairs(["Go.", "Où est-il ?"], ["Va !", "Where is he?"])
    out = tmp_path / "pairs.tsv"
    out.write_text("old contents\n")
    p.to_tsv(out)
    assert out.read_text(encoding="utf-8") == "Go.\tVa !\nOù est-il ?\tWhere is he?\n"
    assert [f.name for f in tmp_path.iterdir()] == ["pairs.tsv"]           # no temporary file left
    assert read_tsv_pairs(out) == p
    for bad in (Pairs(["a", "b\tc"], ["1", "2"]), Pairs(["a", "b"], ["1", "2\n3"]), Pairs(["a"], [" "])):
        with pytest.raises(ValueError, match="cannot write pair [01] to .*expected one line of text without tabs"):
            bad.to_tsv(out)
    assert read_tsv_pairs(out) == p                                        # untouched by the refusals


# ---------------------------------------------------------------------------------------------- files

def write(tmp_path, data: bytes, name="pairs.txt"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_read_tatoeba_format(tmp_path):
    text = ("\ufeffGo.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM) & #1158250 (Wittydev)\r\n"
            "\r\n  Run!  \t Cours\u00a0!\t x \n\nCafe\u0301.\tCafé.\n")
    path = write(tmp_path, text.encode("utf-8"))
    p = read_tsv_pairs(path)
    assert p.sources == ["Go.", "Run!", "Café."] and p.targets == ["Va !", "Cours\u00a0!", "Café."]
    assert p.sources[2] == "Caf\u00e9."                                    # NFC-normalised
    assert read_tsv_pairs(path, reverse=True) == p.swapped()


def test_max_length_in_chars_or_words_after_reverse(tmp_path):
    path = write(tmp_path, "Hi.\tSalut à toi !\nI see it.\tJe vois.\n".encode())
    assert read_tsv_pairs(path, max_length=9).sources == ["I see it."]     # chars: "Salut à toi !" is 13
    assert read_tsv_pairs(path, max_length=4, tokens="words").sources == ["Hi.", "I see it."]  # 2|4 and 4|3
    rev = read_tsv_pairs(path, max_length=4, tokens=("words", "chars"), reverse=True)  # modes of the new sides
    assert rev == Pairs(["Salut à toi !"], ["Hi."])
    assert read_tsv_pairs(path, max_length=0) == read_tsv_pairs(path)      # 0: keep all (the config's default)
    with pytest.raises(ValueError, match="none of its 2 pairs has at most 3 tokens"):
        read_tsv_pairs(path, max_length=3, tokens="words")
    with pytest.raises(ValueError, match="max_length must be >= 0"):
        read_tsv_pairs(path, max_length=-1)


@pytest.mark.parametrize("data, message", [
    (b"Go.\tVa !\n\nI see. Je comprends.\n", r"pairs.txt, line 3: expected source<TAB>target.*got no tab in 'I see"),
    (b"Go.\tVa !\n\t Je comprends.\n", r"pairs.txt, line 2: expected .* text on both sides, got an empty source"),
    (b"Go.\t \tattribution\n", r"pairs.txt, line 1: expected .* got an empty target"),
    (b"Go.\tVa !\nCaf\xe9\tCafe\n", r"pairs.txt, line 2: byte 0xe9 at column 4 is not UTF-8; expected a UTF-8"),
    (b"", r"pairs.txt holds no pairs; expected lines of source<TAB>target"),
    (b"\n  \r\n\n", r"pairs.txt holds no pairs"),
])
def test_read_errors_name_file_and_line(tmp_path, data, message):
    with pytest.raises(ValueError, match=message):
        read_tsv_pairs(write(tmp_path, data))


# ---------------------------------------------------------------------------------------------- split_pairs

def test_split_pairs_keeps_identical_sources_together():
    rng = np.random.default_rng(0)
    sources = [f"s{i}" for i in rng.integers(0, 300, size=1000)]         # many sources repeat
    p = Pairs(sources, [f"t{i}" for i in range(1000)])
    parts = split_pairs(p, 0.1, 0.2, seed=3)
    assert sum(len(v) for v in parts.values()) == 1000
    assert sorted(t for v in parts.values() for t in v.targets) == sorted(p.targets)
    seen = {k: set(v.sources) for k, v in parts.items()}
    assert not seen["train"] & seen["val"] and not seen["train"] & seen["test"] and not seen["val"] & seen["test"]
    assert len(parts["test"]) >= 200 and len(parts["val"]) >= 100 and len(parts["train"]) > 600
    assert split_pairs(p, 0.1, 0.2, seed=3) == parts                      # deterministic
    assert split_pairs(p, 0.1, 0.2, seed=4)["test"] != parts["test"]
    assert split_pairs(p, 0.3, 0.2, seed=3)["test"] == parts["test"]      # test does not move with val
    for v in parts.values():                                              # original order kept
        assert [int(t[1:]) for t in v.targets] == sorted(int(t[1:]) for t in v.targets)


def test_split_pairs_sizes_and_errors():
    p = Pairs([f"s{i}" for i in range(10)], [f"t{i}" for i in range(10)])
    assert {k: len(v) for k, v in split_pairs(p, 3, 2).items()} == {"train": 5, "val": 3, "test": 2}
    assert {k: len(v) for k, v in split_pairs(p, 0.01, 0).items()} == {"train": 9, "val": 1, "test": 0}
    with pytest.raises(ValueError, match="leaves no training pairs"):
        split_pairs(p, 5, 5)
    with pytest.raises(ValueError, match=r"val_fraction must be a fraction in \[0, 1\).*got 1.5"):
        split_pairs(p, 1.5, 0)
    with pytest.raises(TypeError, match="test_fraction must be a fraction"):
        split_pairs(p, 0.1, True)


# ---------------------------------------------------------------------------------------------- numbers

def test_number_pairs_known_words(n2w):
    p = number_pairs([97, 0, 21, 80], "fr")
    assert p.sources == ["ninety-seven", "zero", "twenty-one", "eighty"]
    assert p.targets == ["quatre-vingt-dix-sept", "zéro", "vingt et un", "quatre-vingts"]
    assert number_pairs([97], "de").targets == ["siebenundneunzig"]
    assert number_pairs([97], "es").targets == ["noventa y siete"]
    assert number_pairs(np.array([1001], dtype=np.int64), "en", source_lang="fr").sources == ["mille un"]


@pytest.mark.parametrize("lang", ["en", "fr", "de", "nl", "es", "it", "pt"])
def test_number_pairs_equal_num2words_itself(n2w, lang):
    """The trimmed-table fast path writes exactly what num2words writes, over the whole range."""
    nums = sorted({*range(0, 130), *np.random.default_rng(1).integers(0, 10**9, 300).tolist(),
                   1000, 10**6, 10**6 + 1, 999_999_999})
    assert number_pairs(nums, lang, source_lang=lang).targets == [n2w.num2words(n, lang=lang) for n in nums]
    small = [0, 5, 17, 99]                                                # a table cut at 99
    assert number_pairs(small, lang).targets == [n2w.num2words(n, lang=lang) for n in small]


def test_number_pairs_errors(n2w, monkeypatch):
    with pytest.raises(ValueError, match=r"target_lang must be a language of num2words \(.*\bfr\b.*\), got 'xx'"):
        number_pairs([1], "xx")
    with pytest.raises(ValueError, match="source_lang must be a language of num2words"):
        number_pairs([1], "fr", source_lang="english")
    with pytest.raises(TypeError, match=r"numbers must be integers, got 3.5 \(float\)"):
        number_pairs([1, 3.5], "fr")
    monkeypatch.setitem(sys.modules, "num2words", None)                   # as if not installed
    with pytest.raises(ImportError, match=r"need num2words: pip install 'lstmkit\[seq2seq\]'"):
        number_pairs([1], "fr")


def test_split_numbers_disjoint_spread_deterministic():
    parts = split_numbers(9999, n_val=500, n_test=1000, seed=7)
    assert list(parts) == ["train", "val", "test"] and all(v.dtype == np.int64 for v in parts.values())
    assert [len(v) for v in parts.values()] == [8500, 500, 1000]
    sets = {k: set(v.tolist()) for k, v in parts.items()}
    assert not sets["train"] & sets["val"] and not sets["train"] & sets["test"] and not sets["val"] & sets["test"]
    assert sets["train"] | sets["val"] | sets["test"] == set(range(10000))
    for k in ("val", "test"):                                             # held out all over the range
        assert parts[k].min() < 500 and parts[k].max() > 9500
        assert np.histogram(parts[k], bins=10, range=(0, 10000))[0].min() > 0
    again = split_numbers(9999, n_val=500, n_test=1000, seed=7)
    assert all(np.array_equal(parts[k], again[k]) for k in parts)
    assert np.array_equal(split_numbers(9999, n_val=10, n_test=1000, seed=7)["test"], parts["test"])
    assert not np.array_equal(split_numbers(9999, n_val=500, n_test=1000, seed=8)["test"], parts["test"])
    with pytest.raises(ValueError, match=r"leave at least one of the 100 numbers 0..99 for training, got 50 \+ 50"):
        split_numbers(99, 50, 50)
    with pytest.raises(ValueError, match="n_val must be >= 0, got -1"):
        split_numbers(99, -1, 5)


# ---------------------------------------------------------------------------------------------- dates

def test_unambiguous_pattern_rule(babel_dates):
    good = ["MMM d, y", "d MMMM y", "EEEE, d. MMMM y", "y/MM/dd", "y年M月d日", "d LLL yyyy", "d 'de' MMMM 'de' y"]
    bad = ["M/d/yy", "dd.MM.y", "dd/MM/y", "d MMM yy", "d MMMM Y", "MMMM y", "d MMMM", "MM/dd/y", "yy/MM/dd",
           "'y' d MM y"]                                                  # quoted letters are not fields
    assert [unambiguous_pattern(p) for p in good] == [True] * len(good)
    assert [unambiguous_pattern(p) for p in bad] == [False] * len(bad)


def test_date_formats_exclude_ambiguous(babel_dates):
    kept = date_formats(DEFAULT_LOCALES, ("short", "medium", "long", "full"))
    assert {loc for loc, _, _ in kept} == set(DEFAULT_LOCALES)            # ja_JP passes the rule
    assert ("de_DE", "medium", "dd.MM.y") not in kept and ("en_US", "long", "MMMM d, y") in kept
    assert not any(f == "short" and not loc.startswith("ja") for loc, f, _ in kept)
    for loc, f, pattern in kept:
        assert babel_dates.get_date_format(f, loc).pattern == pattern
        assert "yy" not in pattern.replace("yyyy", "")
    with pytest.raises(ValueError, match=r"locale 'en_US' writes no date unambiguously in the formats \['short'\]"):
        date_formats(["en_US"], ["short"])
    with pytest.raises(ValueError, match=r"date format must be one of .*got 'huge'"):
        date_formats(["en_US"], ["huge"])
    for bad in ("en-US", "xx_YY", ""):
        with pytest.raises(ValueError, match=f"locale must be a CLDR locale such as en_US.*got '{bad}'"):
            date_formats([bad])


def test_dates_without_babel_say_what_to_install(monkeypatch):
    for name in ("babel", "babel.dates"):
        monkeypatch.setitem(sys.modules, name, None)                      # as if not installed
    for call in (lambda: date_formats(), lambda: date_pairs([datetime.date(2000, 1, 1)]),
                 lambda: unambiguous_pattern("d MMM y")):
        with pytest.raises(ImportError, match=r"need babel: pip install 'lstmkit\[seq2seq\]'"):
            call()


def test_date_pairs_are_iso_and_reproduce(babel_dates):
    days = split_dates("1950-01-01", "2049-12-31", n_val=0, n_test=400, seed=0)["test"]
    p = date_pairs(days, seed=5)
    assert p.targets == [d.isoformat() for d in days]
    assert all(len(t) == 10 and t[4] == t[7] == "-" for t in p.targets)
    kept = date_formats()
    used = collections.Counter()
    for d, source, target in zip(days, p.sources, p.targets):
        back = datetime.date.fromisoformat(target)
        match = [(loc, f) for loc, f, _ in kept if babel_dates.format_date(back, f, locale=loc) == source]
        assert match and back == d, (source, target)
        used[match[0][0]] += 1
    assert set(used) == set(DEFAULT_LOCALES)                              # every locale drawn
    assert date_pairs(days, seed=5) == p and date_pairs(days, seed=6) != p
    assert date_pairs([datetime.datetime(2024, 3, 7, 15, 30)], ["en_US"], ["full"]) == \
        Pairs(["Thursday, March 7, 2024"], ["2024-03-07"])
    with pytest.raises(TypeError, match="dates must be datetime.date, got '2024-03-07'"):
        date_pairs(["2024-03-07"])


def test_no_two_days_read_alike(babel_dates):
    """Across every kept locale and format, a written date names one day (two years cover every month,
    day and weekday)."""
    days = split_dates("2023-01-01", "2024-12-31", n_val=0, n_test=0)["train"]
    meaning = collections.defaultdict(set)
    for loc, f, _ in date_formats(DEFAULT_LOCALES, ("short", "medium", "long", "full")):
        for d in days:
            meaning[babel_dates.format_date(d, f, locale=loc)].add(d)
    assert [s for s, ds in meaning.items() if len(ds) > 1] == []


def test_split_dates():
    parts = split_dates(datetime.date(2000, 1, 1), "2000-12-31", n_val=20, n_test=30, seed=1)
    assert [len(v) for v in parts.values()] == [316, 20, 30]
    every = [d for v in parts.values() for d in v]
    assert len(set(every)) == 366 and min(every) == datetime.date(2000, 1, 1) and max(every).isoformat() == "2000-12-31"
    assert split_dates("2000-01-01", "2000-12-31", 20, 30, seed=1) == parts
    assert split_dates(n_val=1, n_test=1)["test"][0] >= datetime.date(1950, 1, 1)
    with pytest.raises(ValueError, match="end must not be before start, got start 2000-01-02 and end 2000-01-01"):
        split_dates("2000-01-02", "2000-01-01")
    with pytest.raises(ValueError, match="start must be an ISO date like 1950-01-01, got '2000-13-01'"):
        split_dates("2000-13-01", "2001-01-01")
