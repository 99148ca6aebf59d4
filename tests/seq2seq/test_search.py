"""Greedy and beam search: beam 1 is greedy, a wide beam finds the exhaustive optimum, batching changes
nothing, the length penalty, the attention returned."""

import itertools

import pytest
import torch

from lstmkit.seq2seq import (AttentionDecoder, RecurrentEncoder, Seq2Seq, beam_search, greedy_decode,
                             length_penalty)

BOS, EOS = 1, 2


def _model(vocab=5, seed=0):
    torch.manual_seed(seed)
    enc = RecurrentEncoder(9, 4, 4)
    dec = AttentionDecoder(vocab, 4, 6, 1, enc.output_size, enc.summary_size, attention="additive")
    for p in dec.out.parameters():                     # sharper distributions, so hypotheses differ
        p.data *= 4
    return Seq2Seq(enc, dec).eval()


def _source(n=3):
    g = torch.Generator().manual_seed(1)
    return torch.randint(3, 9, (n, 5), generator=g), torch.tensor([5, 3, 1, 4, 2][:n])


def _sequence_logp(model, source, row, tokens):
    src, lengths = source
    tgt = torch.tensor([tokens + [EOS]])
    logits, _ = model((src[row:row + 1], lengths[row:row + 1]), tgt)
    return logits.log_softmax(-1)[0].gather(1, tgt[0].unsqueeze(1)).sum().item()


def test_beam_of_one_is_greedy():
    model, source = _model(), _source()
    g = greedy_decode(model.decoder, model.encode(source), BOS, EOS, 6)
    b = beam_search(model.decoder, model.encode(source), BOS, EOS, 6, beam=1, alpha=0.0)
    assert g.tokens == b.tokens
    assert torch.allclose(torch.tensor(g.scores), torch.tensor(b.scores), atol=1e-5)


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_wide_beam_finds_the_exhaustive_optimum(alpha):
    model, source = _model(vocab=4), _source()
    max_len = 3
    out = beam_search(model.decoder, model.encode(source), BOS, EOS, max_len, beam=64, alpha=alpha)
    words = [0, 1, 3]                                           # every id but the end token
    for row in range(3):
        best, best_seq = float("-inf"), None
        for n in range(max_len + 1):
            for seq in itertools.product(words, repeat=n):
                s = _sequence_logp(model, source, row, list(seq)) / length_penalty(n + 1, alpha)
                if s > best:
                    best, best_seq = s, list(seq)
        assert out.tokens[row] == best_seq
        assert abs(out.scores[row] - best) < 1e-4


def test_scores_are_the_hypotheses_own_normalised_log_probabilities():
    model, source = _model(), _source()
    out = beam_search(model.decoder, model.encode(source), BOS, EOS, 6, beam=4, alpha=0.6)
    for row, (toks, score) in enumerate(zip(out.tokens, out.scores)):
        want = _sequence_logp(model, source, row, toks) / length_penalty(len(toks) + 1, 0.6)
        assert abs(score - want) < 1e-4


@pytest.mark.parametrize("beam", [1, 4])
def test_a_batch_decodes_as_its_rows_do_alone(beam):
    model, (src, lengths) = _model(), _source(5)
    together = model.translate((src, lengths), max_len=7, beam=beam)
    for row in range(5):
        alone = model.translate((src[row:row + 1], lengths[row:row + 1]), max_len=7, beam=beam)
        assert alone.tokens[0] == together.tokens[row]


def test_attention_of_each_emitted_token_including_the_end():
    model, source = _model(), _source()
    for beam in (1, 3):
        out = model.translate(source, max_len=6, beam=beam, attention=True)
        for row, (toks, w) in enumerate(zip(out.tokens, out.weights)):
            assert w.shape == (len(toks) + 1, 5)
            assert torch.allclose(w.sum(1), torch.ones(len(toks) + 1), atol=1e-5)
            assert w[:, int(source[1][row]):].abs().sum() == 0


def test_max_len_is_respected_and_bad_beam_named():
    model, source = _model(), _source()
    assert all(len(t) <= 2 for t in model.translate(source, max_len=2, beam=3).tokens)
    with pytest.raises(ValueError, match="beam must be >= 1"):
        beam_search(model.decoder, model.encode(source), BOS, EOS, 5, beam=0)
