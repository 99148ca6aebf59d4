"""Tokens and vocabularies of ``lstmkit train translate``: tokenize/detokenize round trips, Vocab ids and
JSON, batch-first padding."""

from __future__ import annotations

import datetime
import json

import pytest
import torch

from lstmkit.tasks.translate.vocab import (BOS, EOS, PAD, SPECIALS, UNK, Vocab, detokenize, normalize, pad_batch,
                                           tokenize)

SENTENCES = [
    "Go.", "I don't know.", "Tom's car is red, isn't it?", "Wait... what?!", "He said \"no\" (twice).",
    "It costs 3.5 euros, or 1,000 yen at 12:30.", "The well-known author-editor left.",
    "50% of us agree; fine: go.",
    "Ich weiß es nicht.", "Das ist ein 2-Zimmer-Apartment.", "¿Dónde está la estación?", "¡Qué día!",
    "Non lo so.", "L'uomo è qui.", "C'est l'été, n'est-ce pas", "Он сказал: «да».", "and/or", "हिन्दी भाषा",
    "Café\u0301 noir.",
]


def test_tokenize_modes():
    assert tokenize("a b!", "chars") == ["a", " ", "b", "!"]
    assert tokenize("quatre-vingt-dix-sept", "words") == ["quatre", "-", "vingt", "-", "dix", "-", "sept"]
    assert tokenize("  Hello,   world!\n", "words") == ["Hello", ",", "world", "!"]
    assert tokenize("It's 3.5, 1,000 and 12:30.", "words") == \
        ["It", "'", "s", "3.5", ",", "1,000", "and", "12:30", "."]
    assert tokenize("हिन्दी", "words") == ["हिन्दी"]                        # vowel signs and virama stay
    assert tokenize("Cafe\u0301!", "words") == ["Cafe\u0301", "!"]          # a decomposed accent stays
    assert tokenize("", "words") == [] and tokenize("", "chars") == []
    for mode in ("word", "", None):
        with pytest.raises(ValueError, match=r"mode must be one of \('chars', 'words'\), got"):
            tokenize("x", mode)
    with pytest.raises(ValueError, match="mode must be one of"):
        detokenize(["x"], "bytes")


@pytest.mark.parametrize("text", SENTENCES)
def test_words_round_trip_ordinary_sentences(text):
    assert detokenize(tokenize(text, "words"), "words") == text
    assert detokenize(tokenize(text, "chars"), "chars") == text


def test_words_documented_limits():
    """The cases the module docstring lists as not round-tripping come back as documented."""
    assert normalize("Va !", "words") == "Va!"                           # French spacing
    assert normalize("« Oui »", "words") == "«Oui»"
    assert normalize("5 - 3", "words") == "5-3"
    assert normalize("a  b\tc", "words") == "a b c"
    assert normalize("Va !", "chars") == "Va !"


def test_words_round_trip_generated_numbers_and_dates():
    num2words = pytest.importorskip("num2words", reason="number pairs need num2words (pip install 'lstmkit[seq2seq]')")
    pytest.importorskip("babel", reason="date pairs need babel (pip install 'lstmkit[seq2seq]')")
    from babel.dates import format_date
    from lstmkit.tasks.translate.data import date_formats
    nums = list(range(0, 200)) + list(range(200, 2_000_000, 9973))
    for lang in ("en", "fr", "de", "es", "it", "nl", "pt"):
        for n in nums:
            words = num2words.num2words(n, lang=lang)
            assert detokenize(tokenize(words, "words"), "words") == words, (lang, n)
    days = [datetime.date(2024, 1, 1) + datetime.timedelta(days=k) for k in range(0, 366, 5)]
    for loc, fmt, _ in date_formats(formats=("short", "medium", "long", "full")):
        for d in days:
            text = format_date(d, fmt, locale=loc)
            assert normalize(text, "words") == text, (loc, fmt, text)
    assert tokenize("quatre-vingt-dix-sept", "words")[1] == "-"


def test_vocab_build_order_counts_and_limits():
    lists = [["b", "a", "c"], ["a", "c", "d"], ["a", "<unk>", "<pad>"]]
    v = Vocab.build(lists)
    assert v.tokens[:4] == list(SPECIALS) == ["<pad>", "<bos>", "<eos>", "<unk>"]
    assert (PAD, BOS, EOS, UNK) == (0, 1, 2, 3)
    assert v.tokens[4:] == ["a", "c", "b", "d"]                          # count desc, then token
    assert Vocab.build(lists, min_count=2).tokens[4:] == ["a", "c"]
    assert Vocab.build(lists, max_size=1).tokens[4:] == ["a"] and len(Vocab.build(lists, max_size=0)) == 4
    assert Vocab.build(reversed(lists)) == v                             # order of the data does not matter
    assert "a" in v and "z" not in v and len(v) == 8
    with pytest.raises(ValueError, match="min_count must be >= 1, got 0"):
        Vocab.build(lists, min_count=0)
    with pytest.raises(ValueError, match="max_size must be >= 0 or None, got -1"):
        Vocab.build(lists, max_size=-1)
    with pytest.raises(ValueError, match=r"distinct strings other than .*got 'a' \(a duplicate\)"):
        Vocab(["a", "b", "a"])
    with pytest.raises(ValueError, match=r"got '<eos>' \(a reserved token\)"):
        Vocab(["<eos>"])


def test_encode_decode():
    v = Vocab(["x", "y"])                                                # x=4, y=5
    assert v.encode(["x", "y", "z"]) == [4, 5, UNK, EOS]
    assert v.encode(["y"], bos=True, eos=False) == [BOS, 5] and v.encode([], eos=False) == []
    assert v.decode([BOS, 4, PAD, 5, UNK, EOS, 4, 4]) == ["x", "y", "<unk>"]
    assert v.decode(torch.tensor([5, 4])) == ["y", "x"]                  # no eos: all of it
    assert v.unknown(["z", "x", "w", "z"]) == ["z", "w"]
    for bad in (6, -1):
        with pytest.raises(ValueError, match=rf"token id must be in \[0, 6\) \(the vocabulary's size\), got {bad}"):
            v.decode([4, bad])
    text = "quatre-vingt-dix-sept"
    w = Vocab.build([tokenize(text, "words")])
    assert detokenize(w.decode(w.encode(tokenize(text, "words"), bos=True)), "words") == text


def test_vocab_json_round_trip():
    v = Vocab.build([list("hello world")])
    data = json.loads(json.dumps(v.to_json()))
    assert data == {"specials": list(SPECIALS), "tokens": v.tokens[4:]}
    assert Vocab.from_json(data) == v and Vocab.from_json(data).index == v.index
    assert "Vocab(12 tokens" in repr(v)
    with pytest.raises(ValueError, match=r"specials must be \['<pad>', '<bos>', '<eos>', '<unk>'\], got \['<pad>'\]"):
        Vocab.from_json({"specials": ["<pad>"], "tokens": ["a"]})
    with pytest.raises(ValueError, match="a dict with 'tokens'.*got list"):
        Vocab.from_json(["a", "b"])


def test_pad_batch():
    ids, lengths = pad_batch([[4, 5, 2], [6, 2], [2]])
    assert ids.dtype == lengths.dtype == torch.long and ids.shape == (3, 3) and lengths.shape == (3,)
    assert ids.tolist() == [[4, 5, 2], [6, 2, 0], [2, 0, 0]] and lengths.tolist() == [3, 2, 1]
    ids, lengths = pad_batch([torch.tensor([7]), []], pad=9)
    assert ids.tolist() == [[7], [9]] and lengths.tolist() == [1, 0]
    with pytest.raises(ValueError, match="at least one sequence, got 0"):
        pad_batch([])
