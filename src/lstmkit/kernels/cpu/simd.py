"""A minimal 8-lane SIMD vector type for numba: LLVM ``<8 x float|double>`` values and the few operations
the packed GEMM's micro-kernels need (:mod:`.packed_gemm`).

numba has no SIMD intrinsics, and LLVM's vectorisers do not keep an unrolled register tile of scalars in
vector registers (measured: 4 GFLOP/s and minutes of compile time), so the micro-kernels say what they mean:
``vload`` a row of a packed panel, ``vbcast`` an element of ``a``, ``vfma``. float32 lanes are one AVX2
register; float64 lanes are two. Indices are not bounds-checked.
"""

import numba
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, register_model, models
from llvmlite import ir


class Vec8(types.Type):
    """8 lanes of a float dtype; lowered to an LLVM <8 x float|double>."""
    def __init__(self, dtype):
        self.dtype = dtype
        super().__init__(name=f"Vec8({dtype})")


@register_model(Vec8)
class _Vec8Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        be = ir.VectorType(dmm.lookup(fe_type.dtype).get_value_type(), 8)
        super().__init__(dmm, fe_type, be)


def _ptr(context, builder, aryty, ary, idxs):
    """Address of ary[idxs] (no wraparound / bounds check)."""
    arr = context.make_array(aryty)(context, builder, ary)
    return cgutils.get_item_pointer2(context, builder, data=arr.data,
                                     shape=cgutils.unpack_tuple(builder, arr.shape),
                                     strides=cgutils.unpack_tuple(builder, arr.strides),
                                     layout=aryty.layout, inds=idxs,
                                     wraparound=False, boundscheck=False)


def _cast_idx(context, builder, sig_args, args):
    return [context.cast(builder, v, t, types.intp) for v, t in zip(args, sig_args)]


@intrinsic
def vload(typingctx, arr, idx):
    """Load 8 consecutive elements arr[idx...], arr[idx[:-1], idx[-1]+7] (unit last stride)."""
    vt = Vec8(arr.dtype)
    def codegen(context, builder, sig, args):
        idxs = _cast_idx(context, builder, sig.args[1], cgutils.unpack_tuple(builder, args[1]))
        p = _ptr(context, builder, sig.args[0], args[0], idxs)
        vp = builder.bitcast(p, context.get_value_type(vt).as_pointer())
        return builder.load(vp, align=4)
    return vt(arr, idx), codegen


@intrinsic
def vstore(typingctx, arr, idx, v):
    """Store 8 lanes to arr[idx...] .. +7."""
    def codegen(context, builder, sig, args):
        idxs = _cast_idx(context, builder, sig.args[1], cgutils.unpack_tuple(builder, args[1]))
        p = _ptr(context, builder, sig.args[0], args[0], idxs)
        vp = builder.bitcast(p, args[2].type.as_pointer())
        builder.store(args[2], vp, align=4)
        return context.get_dummy_value()
    return types.none(arr, idx, v), codegen


@intrinsic
def vbcast(typingctx, x):
    """Broadcast scalar x to 8 lanes."""
    vt = Vec8(x)
    def codegen(context, builder, sig, args):
        ty = context.get_value_type(vt)
        v = builder.insert_element(ir.Constant(ty, ir.Undefined), args[0], ir.Constant(ir.IntType(32), 0))
        return builder.shuffle_vector(v, ir.Constant(ty, ir.Undefined),
                                      ir.Constant(ir.VectorType(ir.IntType(32), 8), [0] * 8))
    return vt(x), codegen


@intrinsic
def vfma(typingctx, x, y, z):
    """x*y + z lane-wise (llvm.fma)."""
    def codegen(context, builder, sig, args):
        vty = args[2].type
        name = "llvm.fma.v8f%d" % (32 if vty.element == ir.FloatType() else 64)
        f = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty] * 3), name)
        return builder.call(f, list(args))
    return z(x, y, z), codegen


@intrinsic
def vadd(typingctx, x, y):
    def codegen(context, builder, sig, args):
        return builder.fadd(args[0], args[1])
    return x(x, y), codegen


@intrinsic
def vmul(typingctx, x, y):
    def codegen(context, builder, sig, args):
        return builder.fmul(args[0], args[1])
    return x(x, y), codegen


def _lane_mask(builder, m):
    """<8 x i1> mask of lanes l < m."""
    mv = builder.insert_element(ir.Constant(ir.VectorType(ir.IntType(64), 8), ir.Undefined),
                                m, ir.Constant(ir.IntType(32), 0))
    mv = builder.shuffle_vector(mv, ir.Constant(mv.type, ir.Undefined),
                                ir.Constant(ir.VectorType(ir.IntType(32), 8), [0] * 8))
    lanes = ir.Constant(ir.VectorType(ir.IntType(64), 8), list(range(8)))
    return builder.icmp_signed("<", lanes, mv)


def _vsuffix(vty):
    return "v8f%d" % (32 if vty.element == ir.FloatType() else 64)


@intrinsic
def vload_masked(typingctx, arr, idx, m):
    """Load lanes l < m of arr[idx...]+l, others 0 (no access beyond lane m-1)."""
    vt = Vec8(arr.dtype)
    def codegen(context, builder, sig, args):
        idxs = _cast_idx(context, builder, sig.args[1], cgutils.unpack_tuple(builder, args[1]))
        p = _ptr(context, builder, sig.args[0], args[0], idxs)
        vty = context.get_value_type(vt)
        vp = builder.bitcast(p, vty.as_pointer())
        mask = _lane_mask(builder, context.cast(builder, args[2], sig.args[2], types.int64))
        f = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vty, [vty.as_pointer(), ir.IntType(32), mask.type, vty]),
            "llvm.masked.load.%s.p0%s" % (_vsuffix(vty), _vsuffix(vty)))
        return builder.call(f, [vp, ir.Constant(ir.IntType(32), 4), mask, ir.Constant(vty, None)])
    return vt(arr, idx, m), codegen


@intrinsic
def vstore_masked(typingctx, arr, idx, v, m):
    """Store lanes l < m of v to arr[idx...]+l."""
    def codegen(context, builder, sig, args):
        idxs = _cast_idx(context, builder, sig.args[1], cgutils.unpack_tuple(builder, args[1]))
        p = _ptr(context, builder, sig.args[0], args[0], idxs)
        vty = args[2].type
        vp = builder.bitcast(p, vty.as_pointer())
        mask = _lane_mask(builder, context.cast(builder, args[3], sig.args[3], types.int64))
        f = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [vty, vty.as_pointer(), ir.IntType(32), mask.type]),
            "llvm.masked.store.%s.p0%s" % (_vsuffix(vty), _vsuffix(vty)))
        builder.call(f, [args[2], vp, ir.Constant(ir.IntType(32), 4), mask])
        return context.get_dummy_value()
    return types.none(arr, idx, v, m), codegen
