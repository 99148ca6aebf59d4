"""Activation functions as Triton device functions, written so the interpreter runs them too
(``libdevice.tanh`` does not run there). Computed in float32: callers upcast loads first."""

import triton
import triton.language as tl


@triton.jit
def sigmoid(x):
    return 1.0 / (1.0 + tl.exp(-x))


@triton.jit
def tanh(x):
    # tanh(x) = 2 sigmoid(2x) - 1: exact to float32 rounding, no overflow for large |x|
    return 2.0 / (1.0 + tl.exp(-2.0 * x)) - 1.0
