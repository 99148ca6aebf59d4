"""Encoder-decoder models with attention built from lstmkit's layers: a recurrent or convolutional encoder,
an attending decoder stepped token by token, greedy and batched beam-search decoding.

Example (encode a batch of token ids, decode it with a beam of 4)::

    >>> import torch
    >>> from lstmkit.seq2seq import AttentionDecoder, RecurrentEncoder, Seq2Seq
    >>> enc = RecurrentEncoder(vocab_size=20, embed_size=8, hidden_size=16, bidirectional=True)
    >>> dec = AttentionDecoder(30, 8, 32, 1, memory_size=enc.output_size, summary_size=enc.summary_size,
    ...                        attention="general")
    >>> out = Seq2Seq(enc, dec).translate((torch.randint(4, 20, (2, 6)), torch.tensor([6, 4])), max_len=5, beam=4)
    >>> len(out.tokens)
    2
"""

from .attention import ATTENTION_KINDS, Attention, masked_softmax
from .decoder import AttentionDecoder, DecoderState
from .encoder import ConvBackbone, ImageEncoder, Memory, RecurrentEncoder
from .model import Seq2Seq, shift_targets
from .search import Decoded, beam_search, greedy_decode, length_penalty

__all__ = ["ATTENTION_KINDS", "Attention", "masked_softmax", "AttentionDecoder", "DecoderState", "ConvBackbone",
           "ImageEncoder", "Memory", "RecurrentEncoder", "Seq2Seq", "shift_targets", "Decoded", "beam_search",
           "greedy_decode", "length_penalty"]
