"""Generated parallel text: numbers written out in words (num2words) and dates written in several locales
(babel's CLDR data) -> ISO 8601, with seeded disjoint train/val/test splits of the numbers and days.

Both libraries are the ``seq2seq`` extra (``pip install 'lstmkit[seq2seq]'``) and are imported only when
used.
"""

from __future__ import annotations

import copy
import datetime
import operator
from collections import OrderedDict
from typing import Sequence, Union

import numpy as np

from .pairs import Pairs

__all__ = ["number_pairs", "number_writer", "split_numbers", "date_pairs", "split_dates", "date_formats", "unambiguous_pattern",
           "DEFAULT_LOCALES", "DATE_FORMATS", "DATE_FROM", "DATE_TO"]

#: every default locale writes some format unambiguously (see :func:`unambiguous_pattern`)
DEFAULT_LOCALES = ("en_US", "en_GB", "fr_FR", "de_DE", "es_ES", "it_IT", "pt_BR", "nl_NL", "ja_JP")
#: CLDR's named date formats
DATE_FORMATS = ("short", "medium", "long", "full")
DATE_FROM, DATE_TO = datetime.date(1950, 1, 1), datetime.date(2049, 12, 31)


def _partition(count: int, n_val: int, n_test: int, seed: int, what: str) -> dict[str, np.ndarray]:
    """Indices 0..count-1 in a seeded random order, cut into test (first), val, then train."""
    for name, n in (("n_val", n_val), ("n_test", n_test)):
        if n < 0:
            raise ValueError(f"{name} must be >= 0, got {n}")
    if n_val + n_test >= count:
        raise ValueError(f"n_val + n_test must leave at least one of the {count} {what} for training, got "
                         f"{n_val} + {n_test}")
    perm = np.random.default_rng(seed).permutation(count)
    return {"train": perm[n_test + n_val:], "val": perm[n_test:n_test + n_val], "test": perm[:n_test]}


# ---------------------------------------------------------------------------------------------- numbers

def _converters() -> dict:
    try:
        from num2words import CONVERTER_CLASSES
    except ImportError:
        raise ImportError("number pairs need num2words: pip install 'lstmkit[seq2seq]'") from None
    return CONVERTER_CLASSES


def _fast_converter(conv, largest: int):
    """``conv`` with its table of number words cut to the entries <= ``largest``: num2words' ``splitnum``
    scans the table from the top and skips every entry above the value, so the words are the same for
    every number up to ``largest`` and come about 10x faster for fr/de/nl/en. Checked on probe numbers;
    ``conv`` itself where the language does not use that table."""
    try:
        from num2words.base import Num2Word_Base
    except ImportError:
        return conv
    cards = getattr(conv, "cards", None)
    if not isinstance(cards, OrderedDict) or getattr(type(conv), "splitnum", None) is not Num2Word_Base.splitnum:
        return conv
    fast = copy.copy(conv)
    fast.cards = OrderedDict((k, v) for k, v in cards.items() if k <= largest)
    probes = {n for n in (0, 1, 7, 11, 17, 21, 71, 80, 91, 99, 100, 101, 1000, 1001, 2000, 10**6) if n <= largest}
    try:
        same = all(fast.to_cardinal(n) == conv.to_cardinal(n) for n in sorted(probes | {largest}))
    except Exception:                                          # noqa: BLE001 -- any surprise: the slow path
        same = False
    return fast if same else conv


def number_writer(lang: str, largest: int):
    """A function writing any integer of magnitude <= ``largest`` in words in ``lang`` (num2words' cardinal,
    its fast form), for writing numbers one at a time as they are drawn.

    Example::

        >>> from lstmkit.tasks.translate.data import number_writer
        >>> number_writer("de", 1000)(97)
        'siebenundneunzig'
    """
    classes = _converters()
    if lang not in classes:
        raise ValueError(f"lang must be a language of num2words ({', '.join(sorted(classes))}), got {lang!r}")
    conv = _fast_converter(classes[lang], largest)

    def write(n: int) -> str:
        try:
            return conv.to_cardinal(n)
        except Exception as e:                                     # noqa: BLE001 -- num2words' own errors
            raise ValueError(f"num2words cannot write {n} in {lang!r}: {e}") from None
    return write


def number_pairs(numbers: Sequence[int], target_lang: str, source_lang: str = "en") -> Pairs:
    """Each number written in words in ``source_lang`` -> in ``target_lang`` (num2words cardinals; language
    codes as num2words spells them: en, fr, de, es, it, nl, pt, ...).

    Example::

        >>> from lstmkit.tasks.translate.data import number_pairs
        >>> number_pairs([97, 21], "fr")
        Pairs(sources=['ninety-seven', 'twenty-one'], targets=['quatre-vingt-dix-sept', 'vingt et un'])
        >>> number_pairs([97], "de", source_lang="es").targets
        ['siebenundneunzig']
        >>> number_pairs([97], "xx")
        Traceback (most recent call last):
        ...
        ValueError: target_lang must be a language of num2words (am, ar, ..., vi), got 'xx'
    """
    classes = _converters()
    numbers = list(numbers)
    for name, lang in (("source_lang", source_lang), ("target_lang", target_lang)):
        if lang not in classes:
            raise ValueError(f"{name} must be a language of num2words ({', '.join(sorted(classes))}), got {lang!r}")
    try:
        nums = [operator.index(n) for n in numbers]
    except TypeError:
        bad = next(n for n in numbers if not hasattr(n, "__index__"))
        raise TypeError(f"numbers must be integers, got {bad!r} ({type(bad).__name__})") from None
    largest = max((abs(n) for n in nums), default=0)
    sides = []
    for lang in (source_lang, target_lang):
        conv = _fast_converter(classes[lang], largest)
        words = []
        for n in nums:
            try:
                words.append(conv.to_cardinal(n))
            except Exception as e:                                 # noqa: BLE001 -- num2words' own errors
                raise ValueError(f"num2words cannot write {n} in {lang!r}: {e}") from None
        sides.append(words)
    return Pairs(*sides)


def split_numbers(max_number: int, n_val: int, n_test: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``{"train", "val", "test"}``: 0..max_number in a seeded random order (a permutation, so held-out numbers
    are spread over the whole range), the first ``n_test`` for test, the next ``n_val`` for validation, the
    rest for training. Disjoint; the test numbers do not depend on ``n_val``.

    Example::

        >>> from lstmkit.tasks.translate.data import split_numbers
        >>> parts = split_numbers(99, n_val=5, n_test=5, seed=0)
        >>> {k: len(v) for k, v in parts.items()}, sorted(set().union(*map(set, parts.values()))) == list(range(100))
        ({'train': 90, 'val': 5, 'test': 5}, True)
    """
    if max_number < 0:
        raise ValueError(f"max_number must be >= 0, got {max_number}")
    return {k: v.astype(np.int64) for k, v in
            _partition(max_number + 1, n_val, n_test, seed, f"numbers 0..{max_number}").items()}


# ---------------------------------------------------------------------------------------------- dates

def _babel():
    try:
        import babel
        import babel.dates
    except ImportError:
        raise ImportError("date pairs need babel: pip install 'lstmkit[seq2seq]'") from None
    return babel


def unambiguous_pattern(pattern: str) -> bool:
    """Whether a CLDR date pattern writes each date so that one reading is possible: it has a day of the
    month, a month and a year; the year is never two digits (``yy``) nor a week-based or cyclic year
    (``Y``, ``U``, ``r``); and either the month is spelled (``MMM``, ``MMMM``, ``LLL``, ...) or the year comes
    first (year-month-day, as ``y/MM/dd``).

    Example::

        >>> from lstmkit.tasks.translate.generated import unambiguous_pattern
        >>> [unambiguous_pattern(p) for p in ("MMM d, y", "y/MM/dd", "dd.MM.y", "M/d/yy", "d 'de' MMMM 'de' y")]
        [True, True, False, False, True]
    """
    fields = [v for kind, v in _babel().dates.tokenize_pattern(pattern) if kind == "field"]
    parts = [(c, n) for c, n in fields if c in "yuMLdYUr"]                        # the date's own fields
    letters = {c for c, _ in parts}
    if letters & set("YUr") or not letters & set("yu") or "d" not in letters or not letters & set("ML"):
        return False
    if any(c in "yu" and n == 2 for c, n in parts):
        return False
    return any(c in "ML" and n >= 3 for c, n in parts) or parts[0][0] in "yu"


def _locale(name: str):
    babel = _babel()
    try:
        return babel.Locale.parse(name)
    except (babel.UnknownLocaleError, ValueError, TypeError) as e:
        reason = str(e).splitlines()[0]
        raise ValueError(f"locale must be a CLDR locale such as en_US, fr_FR, de_DE, ja_JP, got {name!r} "
                         f"({reason})") from None


def date_formats(locales: Sequence[str] = DEFAULT_LOCALES, formats: Sequence[str] = ("medium", "long", "full")
                 ) -> list[tuple[str, str, str]]:
    """The (locale, format, CLDR pattern) that :func:`date_pairs` writes: those of ``locales`` x ``formats``
    whose pattern is unambiguous (:func:`unambiguous_pattern`). Every locale must keep at least one.

    Example::

        >>> from lstmkit.tasks.translate.data import date_formats
        >>> date_formats(["de_DE"])
        [('de_DE', 'long', 'd. MMMM y'), ('de_DE', 'full', 'EEEE, d. MMMM y')]
    """
    get_date_format = _babel().dates.get_date_format
    if not locales or not formats:
        raise ValueError(f"expected at least one locale and one format, got locales={list(locales)}, "
                         f"formats={list(formats)}")
    for f in formats:
        if f not in DATE_FORMATS:
            raise ValueError(f"date format must be one of {DATE_FORMATS}, got {f!r}")
    kept = []
    for name in locales:
        loc = _locale(name)
        patterns = {f: get_date_format(f, loc).pattern for f in formats}
        ours = [(name, f, p) for f, p in patterns.items() if unambiguous_pattern(p)]
        if not ours:
            raise ValueError(f"locale {name!r} writes no date unambiguously in the formats {list(formats)} "
                             f"(patterns {patterns}); expected a locale whose pattern spells the month or starts "
                             f"with the year")
        kept += ours
    return kept


def date_pairs(dates: Sequence[datetime.date], locales: Sequence[str] = DEFAULT_LOCALES,
               formats: Sequence[str] = ("medium", "long", "full"), seed: int = 0) -> Pairs:
    """Each date as babel writes it in a locale and format drawn for it (seeded: a locale uniformly, then one
    of its unambiguous formats, see :func:`date_formats`) -> the date in ISO 8601, ``YYYY-MM-DD``.

    Example::

        >>> import datetime
        >>> from lstmkit.tasks.translate.data import date_pairs
        >>> date_pairs([datetime.date(2024, 3, 7), datetime.date(1999, 12, 31)], ["en_US"], formats=["long"])
        Pairs(sources=['March 7, 2024', 'December 31, 1999'], targets=['2024-03-07', '1999-12-31'])
        >>> date_pairs([datetime.date(2024, 3, 7)] * 4, ["en_US", "fr_FR", "de_DE", "ja_JP"], seed=1).sources
        ['7 mars 2024', 'Donnerstag, 7. März 2024', '2024/03/07', '2024年3月7日']
    """
    format_date = _babel().dates.format_date
    kept = date_formats(locales, formats)
    names = list(dict.fromkeys(name for name, _, _ in kept))
    by_locale = [(_locale(n), [f for name, f, _ in kept if name == n]) for n in names]
    rng = np.random.default_rng(seed)
    which, pick = rng.integers(0, len(names), size=len(dates)), rng.random(size=len(dates))
    sources, targets = [], []
    for d, i, u in zip(dates, which, pick):
        if not isinstance(d, datetime.date):
            raise TypeError(f"dates must be datetime.date, got {d!r} ({type(d).__name__})")
        d = datetime.date(d.year, d.month, d.day)                           # a datetime's time is dropped
        loc, fmts = by_locale[i]
        sources.append(format_date(d, fmts[int(u * len(fmts))], locale=loc))
        targets.append(d.isoformat())
    return Pairs(sources, targets)


def _as_date(x: Union[datetime.date, str], name: str) -> datetime.date:
    if isinstance(x, str):
        try:
            return datetime.date.fromisoformat(x)
        except ValueError:
            raise ValueError(f"{name} must be an ISO date like 1950-01-01, got {x!r}") from None
    if not isinstance(x, datetime.date):
        raise TypeError(f"{name} must be a datetime.date or an ISO date string, got {type(x).__name__}")
    return datetime.date(x.year, x.month, x.day)


def split_dates(start: Union[datetime.date, str] = DATE_FROM, end: Union[datetime.date, str] = DATE_TO,
                n_val: int = 1000, n_test: int = 2000, seed: int = 0) -> dict[str, list[datetime.date]]:
    """``{"train", "val", "test"}``: the days from ``start`` to ``end`` (both included) in a seeded random
    order, cut as :func:`split_numbers` cuts numbers. Disjoint.

    Example::

        >>> from lstmkit.tasks.translate.data import split_dates
        >>> parts = split_dates("2024-01-01", "2024-12-31", n_val=30, n_test=30, seed=0)
        >>> {k: len(v) for k, v in parts.items()}, str(min(parts["train"] + parts["val"] + parts["test"]))
        ({'train': 306, 'val': 30, 'test': 30}, '2024-01-01')
    """
    first, last = _as_date(start, "start"), _as_date(end, "end")
    if last < first:
        raise ValueError(f"end must not be before start, got start {first} and end {last}")
    days = (last - first).days + 1
    return {k: [first + datetime.timedelta(days=int(i)) for i in v] for k, v in
            _partition(days, n_val, n_test, seed, f"days {first}..{last}").items()}
