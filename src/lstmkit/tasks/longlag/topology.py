"""The 1997 architecture (``--cell lstm1997``): the LSTM of Hochreiter & Schmidhuber (1997) with each task's
memory-block topology from the paper's Table 10.

The cell is :class:`lstmkit.LSTM` with the paper's options: memory blocks of several cells sharing one input
and one output gate, no forget gate (the constant error carousel), g = 4 sigma - 2 and h = 2 sigma - 1, the
truncated gradient, weights from U(-0.1, 0.1) and negative output-gate biases staggered by block (-1, -2, ...:
the paper's cure for the "abuse problem", later blocks are allocated later). It is trained with this suite's
recipe (Adam, mini-batches, clipping), not the paper's online gradient descent, so its sequence counts compare
architectures under one trainer.

Our layer feeds back the cell outputs only, as every LSTM since Gers et al. (2000); the paper's "fully
connected" hidden layer also fed the gates' previous activations back to every unit. The same topology
therefore has fewer weights here: adding, 2 blocks of 2 cells, is 93 weights in the paper and 61 here
(:func:`weights`).

Example::

    >>> from lstmkit.tasks.longlag.topology import topology
    >>> t = topology("adding")
    >>> t.blocks, t.cells_per_block, t.hidden, t.source
    (2, 2, 4, 'Table 10')
    >>> t.options()["gate_bias_steps"]         # (input, forget, output) per block: -3, -6 and -1, -2
    (-3.0, 0.0, -1.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

__all__ = ["Topology", "TOPOLOGIES", "topology", "weights"]


@dataclass(frozen=True)
class Topology:
    """Memory blocks of one task's 1997 network.

    Attributes:
        blocks, cells_per_block: the hidden layer is ``blocks`` memory blocks of ``cells_per_block`` cells.
        paper_weights: the paper's count of weights for this network, where the task's entry gives one.
        source: "Table 10" (the paper's table, as issue 25 lists it) or "ours" (a topology we chose for a task
            the list does not cover; the table's own entry for it is not checked here).
        output_bias_step: output-gate bias of block k is k * output_bias_step (k = 1 .. blocks).
        input_bias_step: the same for the input gates. Negative input-gate biases keep a block from writing
            (and its carousel from drifting into the saturated range of h) until it has learned when to:
            without them the 2x2 network does not learn the adding problem at all (T=50, 30,000 sequences,
            loss stuck at the target's variance); with -3, -6 it solves it in 39,000.
    """

    blocks: int
    cells_per_block: int
    paper_weights: Optional[int] = None
    source: str = "Table 10"
    output_bias_step: float = -1.0
    input_bias_step: float = -1.0

    @property
    def hidden(self) -> int:
        return self.blocks * self.cells_per_block

    def describe(self) -> str:
        return f"{self.blocks}x{self.cells_per_block}"

    def options(self) -> dict:
        """The :class:`lstmkit.LSTM` options of the 1997 cell with this topology."""
        return {"cells_per_block": self.cells_per_block, "forget_gate": False, "input_squash": "1997",
                "output_squash": "1997", "truncated_gradient": True, "init_range": 0.1,
                "gate_bias_steps": (float(self.input_bias_step), 0.0, float(self.output_bias_step))}


#: task -> its 1997 topology. Table 10 entries as issue 25 lists them (Reber 4x1, also run as 3x2; adding and
#: multiplication 2x2 with 93 weights; 6a 2x2; 6b 3x2); the rest marked "ours".
TOPOLOGIES: dict[str, Topology] = {
    "reber": Topology(4, 1),
    "reber-continual": Topology(4, 1),
    "2a": Topology(2, 1, source="ours"),
    "2b": Topology(2, 1, source="ours"),
    "2c": Topology(2, 1, source="ours"),
    "3a": Topology(3, 1, source="ours"),
    "adding": Topology(2, 2, paper_weights=93, input_bias_step=-3.0),
    "multiplication": Topology(2, 2, paper_weights=93, input_bias_step=-3.0),
    "6a": Topology(2, 2),
    "6b": Topology(3, 2),
    "adding-modern": Topology(2, 2, source="ours"),
    "copy": Topology(4, 2, source="ours"),
}


def topology(task: str, blocks: Optional[int] = None, cells_per_block: Optional[int] = None) -> Topology:
    """The task's 1997 topology, with ``blocks`` / ``cells_per_block`` overriding it when given."""
    if task not in TOPOLOGIES:
        raise ValueError(f"task must be one of {sorted(TOPOLOGIES)}, got {task!r}")
    t = TOPOLOGIES[task]
    for name, value in (("blocks", blocks), ("cells_per_block", cells_per_block)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if blocks is None and cells_per_block is None:
        return t
    return Topology(blocks or t.blocks, cells_per_block or t.cells_per_block, None, "ours",
                    t.output_bias_step, t.input_bias_step)


def weights(net) -> int:
    """Trainable weights of a network, counting b_ih + b_hh once (one bias per unit, as the paper does)."""
    return sum(p.numel() for n, p in net.named_parameters() if "bias_hh" not in n)
