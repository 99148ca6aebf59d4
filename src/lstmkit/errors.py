"""lstmkit's exception types: each is the exception torch.nn raises for the same mistake *and* the one
lstmkit raised before it followed torch.nn, so code written for either catches it.

=====================  ===================================  =============================================
class                  is a                                 raised for
=====================  ===================================  =============================================
:class:`ShapeError`    ``RuntimeError`` and ``ValueError``  a tensor whose shape, size or batch does not
                                                            fit (input size, hidden-state shape, an empty
                                                            sequence), as torch.nn's shape checks
:class:`DTypeError`    ``ValueError``, ``TypeError`` and    an input whose dtype is not the weights' (the
                       ``RuntimeError``                     layers raise ValueError in torch.nn, the cells
                                                            RuntimeError)
:class:`DeviceError`   ``RuntimeError`` and ``ValueError``  an input or state on another device than the
                                                            weights or the input
:class:`OptionError`   ``ValueError`` and ``TypeError``     a constructor option the class does not take
                                                            (``GRU(..., proj_size=2)``)
=====================  ===================================  =============================================

Example::

    >>> import torch, lstmkit
    >>> try:
    ...     lstmkit.LSTM(3, 4)(torch.zeros(5, 2, 7))
    ... except RuntimeError as e:                  # torch.nn's type; ValueError catches it too
    ...     print(type(e).__name__, isinstance(e, ValueError))
    ShapeError True
"""

from __future__ import annotations

__all__ = ["ShapeError", "DTypeError", "DeviceError", "OptionError", "ExpectedFailure", "Interrupted", "DivergedError",
           "RunInUseError"]


class ShapeError(RuntimeError, ValueError):
    """A tensor of the wrong shape: torch.nn raises RuntimeError here, lstmkit used to raise ValueError."""


class DTypeError(ValueError, TypeError, RuntimeError):
    """A tensor of the wrong dtype: torch.nn's layers raise ValueError here and its cells RuntimeError;
    lstmkit used to raise TypeError."""


class DeviceError(RuntimeError, ValueError):
    """A tensor on the wrong device: torch.nn raises RuntimeError here, lstmkit used to raise ValueError."""


class OptionError(ValueError, TypeError):
    """A constructor option the class does not take: torch.nn raises ValueError, Python a TypeError."""


class ExpectedFailure(Exception):
    """A failure the ``lstmkit`` command reports in one line with exit status 2 (as it does ValueError,
    TypeError and OSError), not with a traceback: the run diverged, a run folder is in use."""


class DivergedError(ExpectedFailure, FloatingPointError):
    """Training produced a non-finite loss or weights; the run's ``last`` checkpoint stays the last finite
    state."""


class RunInUseError(ExpectedFailure, RuntimeError):
    """Another process holds the run folder's lock."""


class Interrupted(Exception):
    """A command stopped cleanly by a signal (its work saved): the command line exits 128 + the signal's
    number (130 for Ctrl-C, 143 for SIGTERM), as an interrupted process does, so scripts do not carry on
    as if it had finished."""

    def __init__(self, signal_name: str, message: str = "") -> None:
        super().__init__(message or f"interrupted ({signal_name})")
        self.signal_name = signal_name

    @property
    def exit_status(self) -> int:
        import signal
        return 128 + int(getattr(signal, self.signal_name, signal.SIGINT))
