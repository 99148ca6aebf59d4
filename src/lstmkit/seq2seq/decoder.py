"""The attending decoder: an lstmkit recurrent stack stepped one token at a time over an encoder's
:class:`~lstmkit.seq2seq.Memory` (Luong et al. 2015's architecture, with Bahdanau et al. 2015's additive
score as one of the score functions).

At step t, with y_{t-1} the previous target token and s_{t-1} the stack's state:

.. math::

    x_t = [E y_{t-1};\\ \\tilde h_{t-1}], \\quad
    h_t, s_t = \\mathrm{RNN}(x_t, s_{t-1}), \\quad
    c_t, \\alpha_t = \\mathrm{attend}(h_t, \\text{annotations}), \\quad
    \\tilde h_t = \\tanh(W_c [c_t; h_t]), \\quad
    p(y_t) = \\mathrm{softmax}(W_o \\tilde h_t)

where the attentional vector of the previous step, \\tilde h_{t-1}, is fed back in (*input feeding*; zero
at t = 1) only when ``input_feeding=True``. With ``attention="none"`` there is no c_t and no feeding:
\\tilde h_t = h_t, the plain encoder-decoder of Sutskever et al. 2014, whose only view of the source is the
initial state s_0 = tanh(W_s u) made from the encoder's summary u.

Without input feeding the stack does not depend on earlier attention, so teacher-forced training runs it over
the whole target in one call (the fused kernels) and attends for all steps at once; with feeding it steps.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import torch
from torch import Tensor, nn

from .attention import ATTENTION_KINDS, Attention
from .encoder import RECURRENT_CELLS, Memory

__all__ = ["AttentionDecoder", "DecoderState"]


class DecoderState(NamedTuple):
    """What the decoder carries between steps, every tensor with the batch N of the memory it attends to.

    Attributes:
        rnn: the stack's state: ``(h, c)`` of ``(L, N, H)`` each for an LSTM, ``h (L, N, H)`` otherwise.
        feed: ``(N, H)`` the previous attentional vector (input feeding), or None.
        keys: ``(N, S, K)`` the attention's precomputed annotation part, or None without attention.
    """

    rnn: object
    feed: Optional[Tensor]
    keys: Optional[Tensor]

    def select(self, index: Tensor) -> "DecoderState":
        """The state of the rows ``index (M,)`` (beam search reorders hypotheses with it)."""
        rnn = tuple(s.index_select(1, index) for s in self.rnn) if isinstance(self.rnn, tuple) \
            else self.rnn.index_select(1, index)
        pick = (lambda t: None if t is None else t.index_select(0, index))
        return DecoderState(rnn, pick(self.feed), pick(self.keys))


class AttentionDecoder(nn.Module):
    """Writes a target sequence token by token while attending over a :class:`~lstmkit.seq2seq.Memory`.

    Args:
        vocab_size: target vocabulary (id 0 is padding).
        embed_size: target token embedding size.
        hidden_size: H, the stack's hidden size (also the attentional vector's).
        num_layers: stacked layers.
        memory_size: V, the size of the encoder's annotations.
        summary_size: U, the size of the encoder's summary vector (the initial state is made from it).
        attention: ``additive``, ``dot``, ``general`` or ``none``.
        input_feeding: feed the previous attentional vector into the stack (Luong et al. 2015, section 3.3).
        cell: ``lstm`` (default), ``gru`` or ``rnn``.
        dropout: on embeddings, between layers and before the output layer.
        backend: lstmkit kernel backend; ``**cell_options``: the cell's variant options.

    ``forward(tgt_in (B, T) long, memory) -> (logits (B, T, vocab), weights (B, T, S) or None)`` runs teacher
    forcing over a whole target; ``step(tokens (N,), state, memory) -> (logits (N, vocab), state,
    weights (N, S) or None)`` runs one step from :meth:`initial_state`.

    Example::

        >>> import torch
        >>> from lstmkit.seq2seq import AttentionDecoder, RecurrentEncoder
        >>> enc = RecurrentEncoder(20, 8, 16)
        >>> dec = AttentionDecoder(30, 8, 24, 1, memory_size=enc.output_size, summary_size=enc.summary_size)
        >>> mem = enc(torch.randint(4, 20, (3, 7)), torch.tensor([7, 5, 2]))
        >>> logits, weights = dec(torch.randint(4, 30, (3, 4)), mem)
        >>> logits.shape, weights.shape
        (torch.Size([3, 4, 30]), torch.Size([3, 4, 7]))
        >>> state = dec.initial_state(mem)
        >>> step_logits, state, w = dec.step(torch.ones(3, dtype=torch.long), state, mem)
        >>> torch.allclose(step_logits, dec(torch.ones(3, 1, dtype=torch.long), mem)[0][:, 0], atol=1e-6)
        True
    """

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, num_layers: int, memory_size: int,
                 summary_size: int, attention: str = "additive", input_feeding: bool = True, cell: str = "lstm",
                 dropout: float = 0.0, backend: str = "auto", **cell_options) -> None:
        super().__init__()
        if attention not in ATTENTION_KINDS + ("none",):
            raise ValueError(f"attention must be one of {ATTENTION_KINDS + ('none',)}, got {attention!r}")
        if cell not in RECURRENT_CELLS:
            raise ValueError(f"cell must be one of {tuple(RECURRENT_CELLS)}, got {cell!r}")
        self.attends = attention != "none"
        self.input_feeding = input_feeding and self.attends
        self.hidden_size, self.num_layers, self.vocab_size = hidden_size, num_layers, vocab_size
        self.n_states = 2 if cell == "lstm" else 1
        self.embed = nn.Embedding(vocab_size, embed_size, padding_idx=0)
        self.drop = nn.Dropout(dropout)
        in_size = embed_size + (hidden_size if self.input_feeding else 0)
        self.rnn = RECURRENT_CELLS[cell](in_size, hidden_size, num_layers, dropout=dropout if num_layers > 1 else 0.0,
                                         backend=backend, **cell_options)
        self.bridge = nn.Linear(summary_size, self.n_states * num_layers * hidden_size)
        self.attention = Attention(attention, hidden_size, memory_size) if self.attends else None
        self.combine = nn.Linear(memory_size + hidden_size, hidden_size) if self.attends else None
        self.out = nn.Linear(hidden_size, vocab_size)

    # ------------------------------------------------------------------------------------------------ state
    def initial_state(self, memory: Memory) -> DecoderState:
        """s_0 = tanh(W_s u) for every layer (and the LSTM's cell state), a zero feed, the attention keys."""
        N = len(memory)
        s = torch.tanh(self.bridge(memory.summary)).view(N, self.n_states, self.num_layers, self.hidden_size)
        states = tuple(s[:, k].transpose(0, 1).contiguous() for k in range(self.n_states))   # (L, N, H) each
        feed = memory.values.new_zeros(N, self.hidden_size) if self.input_feeding else None
        keys = self.attention.keys(memory.values) if self.attends else None
        return DecoderState(states if self.n_states == 2 else states[0], feed, keys)

    # ------------------------------------------------------------------------------------------------ steps
    def _output(self, h: Tensor, memory: Memory, keys: Optional[Tensor]) -> tuple[Tensor, Tensor, Optional[Tensor]]:
        """(logits, attentional vector, weights) for stack outputs ``h`` of shape (N, H) or (N, T, H)."""
        if not self.attends:
            return self.out(self.drop(h)), h, None
        context, weights = self.attention(h, keys, memory.values, memory.mask)
        h_tilde = torch.tanh(self.combine(torch.cat([context, h], dim=-1)))   # h~_t = tanh(W_c [c_t; h_t])
        return self.out(self.drop(h_tilde)), h_tilde, weights

    def step(self, tokens: Tensor, state: DecoderState, memory: Memory) -> tuple[Tensor, DecoderState, Optional[Tensor]]:
        """One token for every row: ``tokens (N,)`` the previous outputs (the start token at first)."""
        x = self.drop(self.embed(tokens))                                       # (N, E)
        if self.input_feeding:
            x = torch.cat([x, state.feed], dim=-1)
        h, rnn = self.rnn.step(x, state.rnn)                                    # (N, H)
        logits, h_tilde, weights = self._output(h, memory, state.keys)
        return logits, DecoderState(rnn, h_tilde if self.input_feeding else None, state.keys), weights

    def forward(self, tgt_in: Tensor, memory: Memory, state: Optional[DecoderState] = None
                ) -> tuple[Tensor, Optional[Tensor]]:
        if tgt_in.dim() != 2 or tgt_in.size(0) != len(memory):
            raise ValueError(f"tgt_in must be (batch={len(memory)}, length) token ids, got {tuple(tgt_in.shape)}")
        state = state or self.initial_state(memory)
        if not self.input_feeding:                        # the stack does not see attention: one call for all T
            h, _ = self.rnn(self.drop(self.embed(tgt_in)).transpose(0, 1), state.rnn)   # (T, B, H)
            logits, _, weights = self._output(h.transpose(0, 1), memory, state.keys)
            return logits, weights
        logits, weights = [], []
        for t in range(tgt_in.size(1)):
            lt, state, wt = self.step(tgt_in[:, t], state, memory)
            logits.append(lt)
            weights.append(wt)
        return torch.stack(logits, 1), torch.stack(weights, 1)
