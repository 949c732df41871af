"""The step loops of RNN, LSTM and GRU as numba kernels: one compiled call per direction and pass.

Each kernel runs the whole recursion of one direction: the product with W_hh each step (NumPy's own BLAS,
fused/blas.py, with the arguments NumPy's matmul passes, so the products are the NumPy loop's), and every
elementwise operation of the step, in the order and precision the NumPy loop (families/*.py) makes them:
the same operations on the same values, one step's ~10 ufunc calls (and their Python overhead) become one
pass over the step's numbers. What differs is tanh: NumPy's vectorised tanh is not callable from numba, and
numba's (the C library's, one value at a time) is ten times slower, so tanh is computed here by a
vectorisable approximation: float64 to within 4e-16 relative of NumPy's (Cephes' rational for |x| < 0.625,
else 1 - 2/(e^{2|x|} + 1) with e^v by range reduction and a degree-13 polynomial), float32 to within
3e-7 (Eigen's 13/6 rational, ±1 beyond |x| = 9). tests/engine/test_fused.py holds the tolerance of whole runs.

Compiled with `cache=True` (numba's cache beside this file, or NUMBA_CACHE_DIR): the first call in a
fresh environment compiles (seconds), later processes load the compiled code.
Every kernel takes its constants (0.5, 1) as arguments typed like the arrays, so float32 runs compute in
float32 as NumPy does, and `error_model="numpy"` (no division check), which lets LLVM vectorise the loops.
"""
from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

from rnntui.engine.families.fused.blas import NO_TRANS, ROW_MAJOR, SYMBOLS, TRANS, bind

if not bind():   # the symbols the compiled kernels call, known to the linker before any is compiled or loaded
    raise ImportError("NumPy's BLAS has no ILP64 CBLAS gemm (scipy_cblas_dgemm64_): the fused kernels cannot run")

_GEMM_ARGS = (types.int32, types.int32, types.int32, types.int64, types.int64, types.int64)
_dgemm = types.ExternalFunction(SYMBOLS["d"], types.void(*_GEMM_ARGS, types.float64, types.intp, types.int64,
                                                          types.intp, types.int64, types.float64, types.intp,
                                                          types.int64))
_sgemm = types.ExternalFunction(SYMBOLS["s"], types.void(*_GEMM_ARGS, types.float32, types.intp, types.int64,
                                                          types.intp, types.int64, types.float32, types.intp,
                                                          types.int64))
FLAGS = dict(cache=True, error_model="numpy", nogil=True)


def step_product(M, v, out):  # pragma: no cover - replaced by the overload in compiled code
    """out (rows, B) = M (rows, n) @ v.T, v (B, n): both C-contiguous."""
    np.matmul(M, v.T, out=out)


@overload(step_product)
def _step_product(M, v, out):
    gemm = _dgemm if M.dtype == types.float64 else _sgemm
    one = 1.0
    zero = 0.0

    def impl(M, v, out):
        rows, n = M.shape
        B = v.shape[0]
        gemm(ROW_MAJOR, NO_TRANS, TRANS, rows, B, n, one, M.ctypes.data, n, v.ctypes.data, n, zero,
             out.ctypes.data, B)
    return impl


@njit(error_model="numpy", fastmath={"contract"})
def _tanh64(x):
    ax = abs(x)
    z = ax * ax
    p = (-9.64399179425052238628e-1 * z - 9.92877231001918586564e1) * z - 1.61468768441708447952e3
    q = ((z + 1.12811678491632931402e2) * z + 2.23548839060100448583e3) * z + 4.84406305325125486048e3
    small = ax + ax * z * p / q
    v = min(2.0 * ax, 40.0)
    kf = np.floor(v * 1.4426950408889634 + 0.5)
    r = v - kf * 6.93147180369123816490e-01 - kf * 1.90821492927058770002e-10
    e = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (1.0 / 720 + r * (
        1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 + r * (1.0 / 3628800 + r * (1.0 / 39916800 + r * (
            1.0 / 479001600 + r / 6227020800.0))))))))))))
    e = e * np.float64(np.int64(1) << np.int64(kf))
    y = small if ax < 0.625 else 1.0 - 2.0 / (e + 1.0)
    return y if x >= 0 else -y


@njit(error_model="numpy", fastmath={"contract"})
def _tanh32(x):
    c = np.float32(7.90531110763549805)
    y = min(max(x, -c), c)
    y2 = y * y
    p = np.float32(-2.76076847742355e-16)
    p = p * y2 + np.float32(2.00018790482477e-13)
    p = p * y2 + np.float32(-8.60467152213735e-11)
    p = p * y2 + np.float32(5.12229709037114e-08)
    p = p * y2 + np.float32(1.48572235717979e-05)
    p = p * y2 + np.float32(6.37261928875436e-04)
    p = p * y2 + np.float32(4.89352455891786e-03)
    q = np.float32(1.19825839466702e-06)
    q = q * y2 + np.float32(1.18534705686654e-04)
    q = q * y2 + np.float32(2.26843463243900e-03)
    q = q * y2 + np.float32(4.89352518554385e-03)
    t = p * y / q
    if x > np.float32(9.0):
        return np.float32(1.0)
    if x < np.float32(-9.0):
        return np.float32(-1.0)
    return t


def ftanh(x):  # pragma: no cover - replaced by the overload in compiled code
    return np.tanh(x)


@overload(ftanh, jit_options={"error_model": "numpy", "fastmath": {"contract"}})
def _ftanh(x):
    return (_tanh32 if x == types.float32 else _tanh64).py_func


@njit(**FLAGS)
def tanh_array(a, out):
    """out = tanh(a), elementwise (1-D): the kernels' tanh, for its test against NumPy's."""
    for i in range(a.size):
        out[i] = ftanh(a[i])


@njit(**FLAGS)
def add_transposed(a, buf):
    """a (B, n) += buf.T, buf (n, B): the step's product added where the loops read it contiguously."""
    n, B = buf.shape
    for j in range(n):
        for b in range(B):
            a[b, j] += buf[j, b]


@njit(**FLAGS)
def transposed(buf, out):
    """out (B, n) = buf.T, buf (n, B)."""
    n, B = buf.shape
    for j in range(n):
        for b in range(B):
            out[b, j] = buf[j, b]


# --- RNN -------------------------------------------------------------------------------------------
@njit(**FLAGS)
def rnn_forward(P, W, h0, reverse, act, Hs, buf):
    """P (T, B, H): x W_ihᵀ + b_ih + b_hh, becomes the pre-activation; Hs (T, B, H) the states.
    act: 0 tanh, 1 relu, 2 identity. W: W_hh (H, H); buf (H, B) scratch."""
    T, B, H = P.shape
    zero = P.dtype.type(0)
    h = h0
    for s in range(T):
        t = T - 1 - s if reverse else s
        step_product(W, h, buf)
        add_transposed(P[t], buf)
        for b in range(B):
            for j in range(H):
                a = P[t, b, j]
                if act == 0:
                    Hs[t, b, j] = ftanh(a)
                elif act == 1:
                    Hs[t, b, j] = a if (a > zero or a != a) else zero
                else:
                    Hs[t, b, j] = a
        h = Hs[t]


@njit(**FLAGS)
def rnn_backward(K, dh_ext, Wt, dh0, reverse, DH, TT, dA, buf):
    """K (T, B, H): act'(pre); dh_ext: dL/dh_t from the output; Wt: W_hhᵀ (H, H), contiguous; dh0: the gradient
    through time where the backward loop starts. Fills DH, TT, dA; returns dL/dh_0 (B, H)."""
    T, B, H = K.shape
    rec = dh0.copy()
    for s in range(T):
        t = s if reverse else T - 1 - s
        for b in range(B):
            for j in range(H):
                r = rec[b, j]
                TT[t, b, j] = r
                d = dh_ext[t, b, j] + r
                DH[t, b, j] = d
                dA[t, b, j] = d * K[t, b, j]
        step_product(Wt, dA[t], buf)
        transposed(buf, rec)
    return rec


# --- LSTM (internal row order o, i, f, g; the sigmoid rows' weights halved: sigmoid(z) = (1 + tanh(z/2)) / 2) --
@njit(**FLAGS)
def lstm_forward(G, M, h0, c0, reverse, Cs, TC, Hs, buf):
    """G (T, B, 4H): x W_ihᵀ + b (scaled, internal order), becomes the gates; M: W_hh (scaled, internal order)."""
    T, B, H4 = G.shape
    H = H4 // 4
    half = G.dtype.type(0.5)
    h, c = h0, c0
    for s in range(T):
        t = T - 1 - s if reverse else s
        step_product(M, h, buf)
        add_transposed(G[t], buf)
        for b in range(B):
            for j in range(3 * H):
                G[t, b, j] = ftanh(G[t, b, j]) * half + half
            for j in range(3 * H, H4):
                G[t, b, j] = ftanh(G[t, b, j])
            for j in range(H):
                cn = G[t, b, 2 * H + j] * c[b, j] + G[t, b, H + j] * G[t, b, 3 * H + j]
                Cs[t, b, j] = cn
                tc = ftanh(cn)
                TC[t, b, j] = tc
                Hs[t, b, j] = G[t, b, j] * tc
        h, c = Hs[t], Cs[t]


@njit(**FLAGS)
def lstm_backward(G, TC, c_prev, dh_ext, Mt, dh0, dc0, reverse, DH, DC, TT, CT, CH, dZ, buf):
    """Mt: W_hh (internal order, unscaled) transposed, (H, 4H) contiguous. Fills DH, DC (dL/dh_t, dL/dc_t), TT, CT
    (their parts through time), CH (dL/dc_t through h_t) and dZ (the pre-activations' gradients, internal
    order); returns dL/dh_0, dL/dc_0."""
    T, B, H4 = G.shape
    H = H4 // 4
    one = G.dtype.type(1)
    rh = dh0.copy()
    rc = dc0.copy()
    for s in range(T):
        t = s if reverse else T - 1 - s
        for b in range(B):
            for j in range(H):
                o = G[t, b, j]
                i = G[t, b, H + j]
                f = G[t, b, 2 * H + j]
                g = G[t, b, 3 * H + j]
                tc = TC[t, b, j]
                TT[t, b, j] = rh[b, j]
                CT[t, b, j] = rc[b, j]
                dh = dh_ext[t, b, j] + rh[b, j]
                DH[t, b, j] = dh
                ch = dh * (o * (one - tc * tc))
                CH[t, b, j] = ch
                dc = ch + rc[b, j]
                DC[t, b, j] = dc
                dZ[t, b, j] = dh * (tc * o * (one - o))
                dZ[t, b, H + j] = g * i * (one - i) * dc
                dZ[t, b, 2 * H + j] = c_prev[t, b, j] * f * (one - f) * dc
                dZ[t, b, 3 * H + j] = i * (one - g * g) * dc
                rc[b, j] = dc * f
        step_product(Mt, dZ[t], buf)
        transposed(buf, rh)
    return rh, rc


# --- GRU (rows r, z, n; the r and z rows' weights halved) -----------------------------------------------------
@njit(**FLAGS)
def gru_forward(G, M, bhn, h0, reverse, Hs, HPn, buf):
    """G (T, B, 3H): x W_ihᵀ + b (r, z rows scaled, with b_hr, b_hz), becomes the gates; M: W_hh (r, z rows
    scaled); bhn: b_hn. Fills Hs and HPn (W_hn h + b_hn)."""
    T, B, H3 = G.shape
    H = H3 // 3
    half = G.dtype.type(0.5)
    h = h0
    hp = np.empty((B, H3), dtype=G.dtype)
    for s in range(T):
        t = T - 1 - s if reverse else s
        step_product(M, h, buf)
        transposed(buf, hp)
        for b in range(B):
            for j in range(2 * H):
                G[t, b, j] = ftanh(G[t, b, j] + hp[b, j]) * half + half
            for j in range(H):
                hpn = hp[b, 2 * H + j] + bhn[j]
                HPn[t, b, j] = hpn
                n = ftanh(G[t, b, 2 * H + j] + G[t, b, j] * hpn)
                G[t, b, 2 * H + j] = n
                Hs[t, b, j] = n + (h[b, j] - n) * G[t, b, H + j]
        h = Hs[t]


@njit(**FLAGS)
def gru_backward(G, HPn, h_prev, dh_ext, Mt, dh0, reverse, DH, TT, dX, dHp, buf):
    """Mt: W_hhᵀ (H, 3H) contiguous, unscaled. Fills DH, TT, dX (the input projection's gradients) and dHp (the
    recurrent projection's); returns dL/dh_0."""
    T, B, H3 = G.shape
    H = H3 // 3
    one = G.dtype.type(1)
    rec = dh0.copy()
    for s in range(T):
        t = s if reverse else T - 1 - s
        for b in range(B):
            for j in range(H):
                r = G[t, b, j]
                z = G[t, b, H + j]
                n = G[t, b, 2 * H + j]
                TT[t, b, j] = rec[b, j]
                dh = dh_ext[t, b, j] + rec[b, j]
                DH[t, b, j] = dh
                dan = dh * ((one - z) * (one - n * n))
                dX[t, b, 2 * H + j] = dan
                dz = dh * ((h_prev[t, b, j] - n) * z * (one - z))
                dr = dan * (HPn[t, b, j] * r * (one - r))
                dHp[t, b, H + j] = dz
                dHp[t, b, j] = dr
                dX[t, b, H + j] = dz
                dX[t, b, j] = dr
                dHp[t, b, 2 * H + j] = dan * r
        step_product(Mt, dHp[t], buf)
        transposed(buf, rec)
        for b in range(B):
            for j in range(H):
                rec[b, j] += DH[t, b, j] * G[t, b, H + j]
    return rec
