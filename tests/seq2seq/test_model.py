"""Encoders, the attending decoder and the whole model: shapes, lengths, teacher forcing equal to stepping,
gradients, and a toy task learnt."""

import pytest
import torch

from lstmkit.seq2seq import (AttentionDecoder, ConvBackbone, ImageEncoder, RecurrentEncoder, Seq2Seq,
                             shift_targets)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_encoder_summary_is_each_sequence_own_final_state(cell):
    torch.manual_seed(0)
    enc = RecurrentEncoder(15, 6, 5, num_layers=2, cell=cell, bidirectional=True).eval()
    src = torch.randint(4, 15, (3, 7))
    lengths = torch.tensor([7, 4, 1])
    mem = enc(src, lengths)
    for b in range(3):
        n = int(lengths[b])
        alone = enc(src[b:b + 1, :n], torch.tensor([n]))
        assert torch.allclose(mem.summary[b], alone.summary[0], atol=1e-6)
        assert torch.allclose(mem.values[b, :n], alone.values[0], atol=1e-6)
        assert mem.values[b, n:].abs().sum() == 0
    assert mem.mask.sum(1).tolist() == lengths.tolist()


def test_image_encoder_grid_and_pluggable_backbone():
    enc = ImageEncoder(ConvBackbone(1, width=8, blocks=3), grid=(3, 3))
    mem = enc(torch.rand(2, 1, 48, 48))
    assert mem.values.shape == (2, 9, 32) and mem.summary.shape == (2, 32)
    custom = ImageEncoder(torch.nn.Conv2d(3, 5, 4, stride=4), channels=5, positions=False)
    assert custom(torch.rand(1, 3, 16, 16)).values.shape == (1, 16, 5)
    with pytest.raises(ValueError, match="feature maps"):
        ImageEncoder(torch.nn.Conv2d(3, 5, 4, stride=4), channels=7, positions=False)(torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match="channels="):
        ImageEncoder(torch.nn.Identity())


def _model(attention, feeding, cell="lstm", dtype=torch.float32):
    torch.manual_seed(3)
    enc = RecurrentEncoder(11, 5, 4, cell=cell, backend="reference")
    dec = AttentionDecoder(13, 5, enc.output_size if attention == "dot" else 6, 2, enc.output_size, enc.summary_size, attention=attention,
                           input_feeding=feeding, cell=cell, backend="reference")
    return Seq2Seq(enc, dec).to(dtype)


@pytest.mark.parametrize("attention", ["additive", "dot", "general", "none"])
@pytest.mark.parametrize("feeding", [True, False])
def test_teacher_forcing_equals_stepping(attention, feeding):
    model = _model(attention, feeding).eval()
    src, lengths = torch.randint(4, 11, (3, 6)), torch.tensor([6, 3, 2])
    tgt = torch.randint(3, 13, (3, 5))
    logits, weights = model((src, lengths), tgt)
    mem = model.encode((src, lengths))
    state = model.decoder.initial_state(mem)
    prev = shift_targets(tgt, 1)
    for t in range(5):
        lt, state, wt = model.decoder.step(prev[:, t], state, mem)
        assert torch.allclose(lt, logits[:, t], atol=1e-5)
        if attention != "none":
            assert torch.allclose(wt, weights[:, t], atol=1e-6)
            assert wt[2, 2:].abs().sum() == 0                   # past the source length: no attention
    assert (weights is None) == (attention == "none")


@pytest.mark.parametrize("feeding", [True, False])
def test_gradients_match_finite_differences(feeding):
    model = _model("additive", feeding, cell="lstm", dtype=torch.float64)
    src, lengths = torch.randint(4, 11, (2, 4)), torch.tensor([4, 2])
    tgt = torch.tensor([[5, 6, 2], [7, 2, 0]])
    params = [p for p in model.parameters() if p.requires_grad]
    loss = model.loss((src, lengths), tgt)
    grads = torch.autograd.grad(loss, params)
    eps = 1e-6
    for p, g in list(zip(params, grads))[::3]:
        idx = tuple(torch.randint(0, s, (1,)).item() for s in p.shape)
        with torch.no_grad():
            p[idx] += eps
            up = model.loss((src, lengths), tgt).item()
            p[idx] -= 2 * eps
            down = model.loss((src, lengths), tgt).item()
            p[idx] += eps
        assert abs((up - down) / (2 * eps) - g[idx].item()) < 1e-6


def test_padding_does_not_change_the_loss_of_the_real_tokens():
    model = _model("general", True).eval()
    src, lengths = torch.randint(4, 11, (1, 4)), torch.tensor([4])
    padded_src = torch.cat([src, torch.zeros(1, 3, dtype=torch.long)], 1)
    tgt = torch.tensor([[5, 6, 2]])
    padded_tgt = torch.tensor([[5, 6, 2, 0, 0]])
    a = model.loss((src, lengths), tgt)
    b = model.loss((padded_src, lengths), padded_tgt)
    assert torch.allclose(a, b, atol=1e-6)


def test_learns_to_reverse_short_sequences():
    """A copy task: the model must attend to the right source position to get it right."""
    torch.manual_seed(0)
    enc = RecurrentEncoder(10, 16, 32)
    dec = AttentionDecoder(10, 16, 64, 1, enc.output_size, enc.summary_size, attention="general",
                           input_feeding=False)
    model = Seq2Seq(enc, dec)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)

    def batch(n):
        lengths = torch.randint(2, 7, (n,), generator=g)
        src = torch.randint(3, 10, (n, 6), generator=g) * (torch.arange(6) < lengths[:, None])
        tgt = torch.zeros(n, 7, dtype=torch.long)
        for b, k in enumerate(lengths.tolist()):
            tgt[b, :k] = src[b, :k].flip(0)
            tgt[b, k] = 2
        return src, lengths, tgt

    for _ in range(300):
        src, lengths, tgt = batch(64)
        loss = model.loss((src, lengths), tgt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    src, lengths, tgt = batch(200)
    out = model.translate((src, lengths), max_len=8, beam=3)
    exact = sum(o == t[:int(n)].tolist() for o, t, n in zip(out.tokens, tgt, lengths)) / 200
    assert exact > 0.9
