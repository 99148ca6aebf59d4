"""PyTorch's generic module tests over the recurrent modules, with lstmkit's classes in torch.nn's place.

The cases are PyTorch's own: the ModuleInfos of nn.RNN, GRU, LSTM, RNNCell, GRUCell and LSTMCell that the
installed torch ships in ``torch.testing._internal.common_modules`` (constructor arguments, inputs,
reference functions, expected errors), instantiated by its ``@modules`` / ``instantiate_device_type_tests``
machinery. The checks re-express, one by one, those of PyTorch's test/test_modules.py (forward against
the reference, factory kwargs, repr, pickle, non-contiguous inputs, gradcheck and gradgradcheck with
batched gradients, memory format, train/eval, meta-device construction, errors). Every case runs twice:
on lstmkit (``lstmkit_LSTM`` ...) and, as the control, on torch.nn (``nn_LSTM`` ...); the control's
gradcheck/gradgradcheck of torch.nn's three layers (minutes) runs with LSTMKIT_FULL_CONTROL=1.
"""

from __future__ import annotations

import copy
import os
import tempfile
from itertools import chain
from operator import methodcaller
from unittest.mock import patch

import pytest

pytest.importorskip("expecttest", reason="torch.testing's harness needs expecttest (pip install 'lstmkit[test]')")

import torch  # noqa: E402
from torch._subclasses.meta_utils import assert_metadata_eq  # noqa: E402
from torch.testing._internal.common_device_type import instantiate_device_type_tests, onlyCPU  # noqa: E402
from torch.testing._internal.common_modules import (ModuleErrorEnum, ModuleInfo, TrainEvalMode,  # noqa: E402
                                                    module_db, modules)
from torch.testing._internal.common_utils import (TestCase, freeze_rng_state, get_tensors_from,  # noqa: E402
                                                  gradcheck, gradgradcheck, mock_wrapper)
from torch.utils._pytree import tree_flatten, tree_unflatten  # noqa: E402

import lstmkit  # noqa: E402

OURS = {"nn.RNN": lstmkit.RNN, "nn.GRU": lstmkit.GRU, "nn.LSTM": lstmkit.LSTM,
        "nn.RNNCell": lstmkit.RNNCell, "nn.GRUCell": lstmkit.GRUCell, "nn.LSTMCell": lstmkit.LSTMCell}
TORCH_INFOS = [info for info in module_db if info.name in OURS]


class LstmkitModuleInfo(ModuleInfo):
    """torch.nn's ModuleInfo with lstmkit's class in place of torch.nn's (test names ``lstmkit_<Class>``)."""

    @property
    def name(self):
        return f"lstmkit.{self.module_cls.__name__}"


def _swapped(info: ModuleInfo) -> ModuleInfo:
    ours = copy.copy(info)
    ours.__class__ = LstmkitModuleInfo
    ours.module_cls = OURS[info.name]
    return ours


INFOS = TORCH_INFOS + [_swapped(info) for info in TORCH_INFOS]


def test_the_installed_torch_ships_all_six_recurrent_module_infos():
    assert sorted(info.name for info in TORCH_INFOS) == sorted(OURS)


def _traverse(obj, fn):
    if isinstance(obj, (tuple, list)):
        return type(obj)(_traverse(o, fn) for o in obj)
    if isinstance(obj, dict):
        return {k: _traverse(v, fn) for k, v in obj.items()}
    if isinstance(obj, torch.Tensor):
        return fn(obj)
    return None


def _grads(obj):
    return _traverse(obj, lambda t: t.grad if t.requires_grad else None)


def _zero_grads(obj):
    def zero(t):
        t.grad = None
    _traverse(obj, zero)


def _retain_grads(obj):
    _traverse(obj, lambda t: t.retain_grad() if t.requires_grad else None)


def _backward_all(out, grad_out):
    """Backpropagate ``grad_out`` (same structure as ``out``; None where no gradient) through ``out``."""
    for o, g in zip(tree_flatten(out)[0], tree_flatten(grad_out)[0]):
        if isinstance(o, torch.Tensor) and o.requires_grad:
            o.backward(g, retain_graph=True)


def _non_contiguous(obj):
    def make(t):
        if t.dim() == 0:
            return t
        out = torch.repeat_interleave(t, 2, dim=-1)[..., ::2].detach()
        out.requires_grad = t.requires_grad
        return out
    return _traverse(obj, make)


def _inputs(module_info, device, dtype, training, requires_grad=False):
    return [mi for mi in module_info.module_inputs_func(module_info, device=device, dtype=dtype,
                                                        requires_grad=requires_grad, training=training)
            if mi.forward_input is not None]


def _build(module_info, module_input, device, dtype, training):
    args, kwargs = module_input.constructor_input.args, module_input.constructor_input.kwargs
    m = module_info.module_cls(*args, **kwargs)
    m.to(device).to(dtype)
    m.train(training)
    return m


class TestRecurrentModule(TestCase):
    precision = 1e-5
    rel_tol = 1e-5

    def _assert_placed(self, module, device, dtype):
        device = torch.device(device)
        for kind, items in (("Parameter", module.named_parameters()), ("Buffer", module.named_buffers())):
            for name, t in items:
                self.assertEqual(t.device, device, f"{kind} {name} is on {t.device}, expected {device}")
                if t.dtype.is_floating_point:
                    self.assertEqual(t.dtype, dtype, f"{kind} {name} is {t.dtype}, expected {dtype}")

    @modules(INFOS)
    def test_forward(self, device, dtype, module_info, training):
        cast = {torch.float32: methodcaller("float"), torch.float64: methodcaller("double")}
        for mi in _inputs(module_info, device, dtype, training):
            with freeze_rng_state():
                m = _build(module_info, mi, device, dtype, training)
                args, kwargs = mi.forward_input.args, mi.forward_input.kwargs
                outputs = m(*args, **kwargs)
                if mi.reference_fn is not None:
                    self.assertEqual(outputs, mi.reference_fn(m, *args, **kwargs))
                cast[dtype](m)
                m(*args, **kwargs)
                self._assert_placed(m, device, dtype)

    @modules(INFOS)
    def test_factory_kwargs(self, device, dtype, module_info, training):
        for mi in module_info.module_inputs_func(module_info, device=device, dtype=dtype, requires_grad=False,
                                                 training=training):
            args, kwargs = mi.constructor_input.args, dict(mi.constructor_input.kwargs)
            new_param = mock_wrapper(torch.nn.Parameter.__new__)
            creates = False
            with patch.object(torch.nn.Parameter, "__new__", new_param):
                register_buffer = mock_wrapper(torch.nn.Module.register_buffer)
                with patch.object(torch.nn.Module, "register_buffer", register_buffer):
                    module_info.module_cls(*args, **kwargs).train(training)
                    given = get_tensors_from(args, kwargs)
                    for mock in (new_param.mock, register_buffer.mock):
                        for c_args, c_kwargs in mock.call_args_list:
                            made = get_tensors_from(c_args, c_kwargs)
                            creates = creates or (len(made) > 0 and not given.intersection(made))
            if not creates:
                continue
            kwargs.update(device=device, dtype=dtype)
            m = module_info.module_cls(*args, **kwargs)
            m.train(training)
            self._assert_placed(m, device, dtype)

    @modules(INFOS)
    def test_repr(self, device, dtype, module_info, training):
        for mi in module_info.module_inputs_func(module_info, device=device, dtype=dtype, requires_grad=False,
                                                 training=training):
            m = _build(module_info, mi, device, dtype, training)
            m.__repr__()
            str(m)

    @modules(INFOS)
    def test_pickle(self, device, dtype, module_info, training):
        for mi in _inputs(module_info, device, dtype, training):
            with freeze_rng_state():
                m = _build(module_info, mi, device, dtype, training)
                args, kwargs = mi.forward_input.args, mi.forward_input.kwargs
                output = m(*args, **kwargs)
                with tempfile.TemporaryFile() as f:
                    torch.save(m, f)
                    f.seek(0)
                    copy_ = torch.load(f, weights_only=False)
                self.assertEqual(output, copy_(*args, **kwargs))

    @modules(INFOS)
    def test_non_contiguous_tensors(self, device, dtype, module_info, training):
        for mi in _inputs(module_info, device, dtype, training, requires_grad=True):
            in_args, in_kwargs = mi.forward_input.args, mi.forward_input.kwargs
            m = _build(module_info, mi, device, dtype, training)
            _retain_grads((in_args, in_kwargs))
            with freeze_rng_state():
                default_out = m(*in_args, **in_kwargs)
                grad_out = _traverse(default_out, lambda o: o.clone().detach_().normal_() if o.requires_grad else None)
                _backward_all(default_out, grad_out)
            default_in_grads = copy.deepcopy(_grads((in_args, in_kwargs)))
            default_param_grads = copy.deepcopy([p.grad for p in m.parameters()])
            variants = [(in_args, in_kwargs), _non_contiguous((in_args, in_kwargs))]
            for (a, k), g in ((v, g) for v in variants for g in (grad_out, _non_contiguous(grad_out))):
                g = copy.deepcopy(g)
                _zero_grads((a, k))
                _zero_grads(list(m.parameters()))
                with freeze_rng_state():
                    out = m(*a, **k)
                    _backward_all(out, g)
                self.assertEqual(out, default_out)
                self.assertEqual(_grads((a, k)), default_in_grads, atol=1e-4, rtol=0)
                self.assertEqual([p.grad for p in m.parameters()], default_param_grads)

    def _check_gradients(self, device, dtype, module_info, training, check):
        for mi in _inputs(module_info, device, dtype, training, requires_grad=True):
            m = _build(module_info, mi, device, dtype, training)
            params = tuple(m.parameters())
            in_args, in_kwargs = mi.forward_input.args, mi.forward_input.kwargs
            kw_tensors = [(n, v) for n, v in in_kwargs.items() if isinstance(v, torch.Tensor)]
            other_kwargs = {n: v for n, v in in_kwargs.items() if not isinstance(v, torch.Tensor)}

            def fn(*flat, spec=None):
                values = tree_unflatten(flat, spec)
                new_args = values[:len(in_args)]
                new_kwargs = {n: v for (n, _), v in zip(kw_tensors, values[len(values) - len(kw_tensors):])}
                with freeze_rng_state():
                    return tree_flatten(m(*new_args, **new_kwargs, **other_kwargs))[0]

            def run_check():
                flat, spec = tree_flatten(in_args + params + tuple(v for _, v in kw_tensors))
                self.assertTrue(check(lambda *f: fn(*f, spec=spec), flat, nondet_tol=0.0))

            run_check()                                          # the total derivative
            old = [p.requires_grad for p in params]
            for p in params:
                p.requires_grad = False
            for p, was in zip(params, old):                      # each parameter's partial derivative
                p.requires_grad = was
                run_check()
                p.requires_grad = False

    def _skip_slow_control(self, module_info):
        """torch.nn's own layers take minutes through gradcheck and gradgradcheck here (PyTorch's CI runs
        them); the control runs them when LSTMKIT_FULL_CONTROL=1. lstmkit's cases always run."""
        if module_info.name in ("nn.RNN", "nn.GRU", "nn.LSTM") and not os.environ.get("LSTMKIT_FULL_CONTROL"):
            self.skipTest("torch.nn's layers through gradcheck/gradgradcheck: the control runs them with "
                          "LSTMKIT_FULL_CONTROL=1 (slow; PyTorch's own CI covers them)")

    @modules(INFOS, allowed_dtypes=[torch.double])
    def test_grad(self, device, dtype, module_info, training):
        self._skip_slow_control(module_info)
        self._check_gradients(device, dtype, module_info, training, gradcheck)

    @modules([info for info in INFOS if info.supports_gradgrad], allowed_dtypes=[torch.double])
    def test_gradgrad(self, device, dtype, module_info, training):
        self._skip_slow_control(module_info)
        self._check_gradients(device, dtype, module_info, training, gradgradcheck)

    @modules(INFOS)
    def test_memory_format(self, device, dtype, module_info, training):
        def differentiable(values):
            return tuple(t for t in tree_flatten(values)[0] if isinstance(t, torch.Tensor) and t.requires_grad)

        def assert_contiguous(values):
            _traverse(values, lambda t: self.assertTrue(t.is_contiguous()))

        for mi in _inputs(module_info, device, dtype, training, requires_grad=True):
            with freeze_rng_state():
                m = _build(module_info, mi, device, dtype, training)
                args, kwargs = mi.forward_input.args, mi.forward_input.kwargs
                desired = m(*args, **kwargs)
                ref_grads = None
                outs = differentiable(desired)
                if training and outs:
                    grad_outputs = tuple(torch.rand_like(t) for t in outs)
                    ref_grads = torch.autograd.grad(outs, differentiable((args, kwargs, tuple(m.parameters()))),
                                                    grad_outputs=grad_outputs)
                cloned = _traverse((args, kwargs), lambda t: t.clone().detach().requires_grad_(t.requires_grad))
                for module_format in (torch.preserve_format, torch.contiguous_format):
                    m.to(memory_format=module_format)
                    outputs = m(*cloned[0], **cloned[1])
                    if module_format != torch.contiguous_format:
                        self.assertEqual(outputs, desired)
                    assert_contiguous(outputs)
                    outs = differentiable(outputs)
                    if training and outs:
                        grads = torch.autograd.grad(outs, differentiable((cloned, tuple(m.parameters()))),
                                                    grad_outputs=tuple(torch.empty_like(a).copy_(b)
                                                                       for a, b in zip(outs, grad_outputs)))
                        self.assertEqual(grads, ref_grads)
                        assert_contiguous(grads)

    @modules(INFOS, train_eval_mode=TrainEvalMode.train_only)
    def test_if_train_and_eval_modes_differ(self, device, dtype, module_info, training):
        for mi in _inputs(module_info, device, dtype, training):
            m = _build(module_info, mi, device, dtype, training)
            delattr(m, "training")
            try:
                m(*mi.forward_input.args, **mi.forward_input.kwargs)
            except AttributeError as e:
                if "'training'" not in str(e):
                    raise
                self.assertTrue(module_info.train_and_eval_differ,
                                f"{module_info.name} reads self.training, but its ModuleInfo says train and eval "
                                f"modes do not differ")

    @onlyCPU
    @modules(INFOS)
    def test_device_ctx_init(self, device, dtype, module_info, training):
        cpu_inputs = module_info.module_inputs_func(module_info, device=device, dtype=dtype, requires_grad=False,
                                                    training=training)
        with torch.device("meta"):
            meta_inputs = module_info.module_inputs_func(module_info, device=None, dtype=dtype, requires_grad=False,
                                                         training=training)
        for cpu_in, meta_in in zip(cpu_inputs, meta_inputs):
            m_cpu = module_info.module_cls(*cpu_in.constructor_input.args, **cpu_in.constructor_input.kwargs)
            with torch.device("meta"):
                m = module_info.module_cls(*meta_in.constructor_input.args, **meta_in.constructor_input.kwargs)
            for p_meta, p_cpu in chain(zip(m.parameters(), m_cpu.parameters()), zip(m.buffers(), m_cpu.buffers())):
                self.assertTrue(p_meta.is_meta)
                assert_metadata_eq(self.assertEqual, p_meta, p_cpu)

    @modules([info for info in INFOS if info.module_error_inputs_func is not None])
    def test_errors(self, device, dtype, module_info, training):
        for error_input in module_info.module_error_inputs_func(module_info, device=device, dtype=dtype,
                                                                 requires_grad=False, training=training):
            mi = error_input.module_error_input
            c_args, c_kwargs = mi.constructor_input.args, mi.constructor_input.kwargs
            if error_input.error_on == ModuleErrorEnum.CONSTRUCTION_ERROR:
                with self.assertRaisesRegex(error_input.error_type, error_input.error_regex):
                    module_info.module_cls(*c_args, **c_kwargs)
            else:
                m = module_info.module_cls(*c_args, **c_kwargs)
                with self.assertRaisesRegex(error_input.error_type, error_input.error_regex):
                    m(*mi.forward_input.args, **mi.forward_input.kwargs)


instantiate_device_type_tests(TestRecurrentModule, globals(), only_for="cpu")
