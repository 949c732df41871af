"""The fast path's scan (scenario/fast_numbers.py) as one compiled pass over the text: numba, optional
(`pip install 'rnntui[fast]'`); without it fast_numbers.py's NumPy scan reads the same lists.

One pass finds the outermost flow sequences that are rectangular arrays of plain numbers and converts each
number where it stands, so the text is read once (the NumPy scan reads it several times, and converts each
number with the C library's correctly rounded but slow routine). What it is not sure of it hands back:
a list holding a token outside the common spelling (`.5`, `.nan`, `1e5`, an int of more than 18 digits,
an empty item, two tokens without a comma) is reported *deferred*, and the NumPy scan reads that list as it
would have (so the result never depends on which scan ran); a float of more than 19 significant digits is
converted by Python's `float()` afterwards.

Each float is converted exactly as `float()` converts it (correctly rounded, round half to even), by
- Clinger's fast path when the digits are an integer w <= 2^53 and the power of ten |q| <= 22: w and 10^q
  are exact doubles, and one IEEE multiplication or division rounds correctly;
- else the Eisel-Lemire algorithm (as in Lemire's fast_float, whose table of 128-bit powers of five is
  computed below the way its generator computes it): the 64-bit digits times the truncated 128-bit power of
  five, which Mushtak and Lemire proved always enough for 19 digits; the one case their earlier version sent
  to a slow path (a low word of all ones outside -27 <= q <= 55) is sent to `float()` here too.
tests/test_number_kernel.py holds it against `float()` (hypothesis: reprs of random doubles and float32s,
subnormals, huge exponents, 17-19 digit decimals, halfway cases).

As it goes, the pass counts the line feeds inside each list (fast_numbers.reduce joins its lines) and checks
every character of the text (yaml_source.load_yaml then skips its own pass for control characters).

Compiled with `cache=True` (numba's cache beside this file, or NUMBA_CACHE_DIR): the first call in a fresh
environment compiles (seconds), later processes load the compiled code; the first call in a process imports
numba and loads that code (0.3-0.7 s on a shared 2-core machine), so fast_numbers takes this scan only for
texts of COMPILED_MIN_BYTES and more.
"""
from __future__ import annotations

import sys

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic
from numba.cpython.unsafe.numbers import leading_zeros, trailing_zeros

if sys.byteorder != "little":   # the eight-digit reads take the first character as the lowest byte
    raise ImportError("the compiled scan of number lists reads bytes as little-endian words")

# kinds of values (per number): how Python finishes it
FLOAT, INT, BY_FLOAT = 0, 1, 2        # BY_FLOAT: `float()` of the token, which starts at ints[value]
# a list's status
OK, DEFER, INVALID = 0, 1, 2
# a record's fields
R_START, R_END, R_V0, R_V1, R_STATUS, R_DEPTH, R_NDIMS, R_INTS, R_FLOATS, R_FIX, R_BREAKS, R_LAST_BREAK = range(12)
R_FIELDS = 12   # R_BREAKS: the line feeds inside the list, R_LAST_BREAK: the offset of its last
MAX_FRAMES = 64                        # deeper nesting: every list around it is no array (MAX_DEPTH is 32)


def _powers_of_five() -> np.ndarray:
    """The 128-bit truncated powers of five 5^q, q in [-342, 308], as fast_float's table_generation.py."""
    out = []
    for q in range(-342, 0):
        power5 = 5 ** -q
        z = power5.bit_length()   # the least z with 2^z >= 5^-q (5^-q is no power of two)
        if q >= -27:
            c = 2 ** (z + 127) // power5 + 1
        else:
            c = 2 ** (2 * z + 128) // power5 + 1
            while c >= 1 << 128:
                c //= 2
        out.append(c)
    for q in range(0, 309):
        power5 = 5 ** q
        while power5 < 1 << 127:
            power5 *= 2
        while power5 >= 1 << 128:
            power5 //= 2
        out.append(power5)
    table = np.empty(2 * len(out), np.uint64)
    for k, c in enumerate(out):
        table[2 * k], table[2 * k + 1] = c >> 64, c & ((1 << 64) - 1)
    return table


_POW5 = _powers_of_five()
_POW10 = np.array([10.0 ** k for k in range(23)])   # exact doubles
_CLASS = np.zeros(256, np.uint8)                      # 0: no character of a number list (ends the run)
for _c in b"0123456789":
    _CLASS[_c] = 1
_CLASS[ord("-")] = _CLASS[ord("+")] = 2
_CLASS[ord("[")], _CLASS[ord("]")], _CLASS[ord(",")] = 3, 4, 5
for _c in b" \r\n":
    _CLASS[_c] = 6
for _c in b".eEnaif":
    _CLASS[_c] = 7

_U32 = np.uint64(32)
_ONES = np.uint64(0xFFFFFFFFFFFFFFFF)
_PREC_MASK = np.uint64(0xFFFFFFFFFFFFFFFF >> 55)
_U0, _U1, _U3 = np.uint64(0), np.uint64(1), np.uint64(3)
_HIDDEN = np.uint64(1 << 52)
_TWO53 = np.uint64(1 << 53)
_SIGN = np.int64(-(1 << 63))
_U63 = np.uint64(63)
_TEN = np.uint64(10)
_E8 = np.uint64(100_000_000)
_HIGH_NIBBLES = np.uint64(0xF0F0F0F0F0F0F0F0)
_SIX = np.uint64(0x0606060606060606)
_THREES = np.uint64(0x3333333333333333)
_ZEROS = np.uint64(0x3030303030303030)
_MASK_A = np.uint64(0x000000FF000000FF)
_MUL_A = np.uint64(100 + (1000000 << 32))
_MUL_B = np.uint64(1 + (10000 << 32))


@intrinsic
def _load8(typingctx, arr, idx):
    """The 8 bytes of the uint8 array *arr* from *idx* as one little-endian uint64 (an unaligned load)."""
    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        ptr = builder.gep(ary.data, [args[1]])
        return builder.load(builder.bitcast(ptr, ir.IntType(64).as_pointer()), align=1)
    return types.uint64(arr, idx), codegen


@njit(inline="always", cache=True)
def _is_digit(c):
    return c >= 48 and c <= 57


@njit(inline="always", cache=True)
def _eight_digits(v):
    """Whether the 8 bytes of *v* are all ASCII digits (fast_float's is_made_of_eight_digits_fast)."""
    return ((v & _HIGH_NIBBLES) | (((v + _SIX) & _HIGH_NIBBLES) >> np.uint64(4))) == _THREES


@njit(inline="always", cache=True)
def _parse_eight(v):
    """The value of 8 ASCII digits, the first in the lowest byte (fast_float's parse_eight_digits_unrolled)."""
    v = v - _ZEROS
    v = v * _TEN + (v >> np.uint64(8))
    return ((v & _MASK_A) * _MUL_A + ((v >> np.uint64(16)) & _MASK_A) * _MUL_B) >> _U32


@intrinsic
def _mul128(typingctx, a, b):
    """The 128-bit product of two uint64, as (high, low): one machine multiplication."""
    def codegen(context, builder, sig, args):
        i128 = ir.IntType(128)
        p = builder.mul(builder.zext(args[0], i128), builder.zext(args[1], i128))
        hi = builder.trunc(builder.lshr(p, ir.Constant(i128, 64)), ir.IntType(64))
        return context.make_tuple(builder, sig.return_type, (hi, builder.trunc(p, ir.IntType(64))))
    return types.UniTuple(types.uint64, 2)(types.uint64, types.uint64), codegen


@njit(cache=True, error_model="numpy")
def eisel_lemire(w, q):
    """The bits of the double nearest w * 10^q (w > 0 a uint64, q an int), or -1 (as an int64) when the
    product does not decide it (then `float()` does)."""
    if q < -342:
        return np.int64(0)
    if q > 308:
        return np.int64(0x7FF << 52)
    lz = np.int64(leading_zeros(w))
    w = w << np.uint64(lz)
    index = 2 * (q + 342)
    hi, lo = _mul128(w, _POW5[index])
    if (hi & _PREC_MASK) == _PREC_MASK:
        hi2, lo2 = _mul128(w, _POW5[index + 1])
        lo = lo + hi2
        if hi2 > lo:
            hi = hi + _U1
    if lo == _ONES and (q < -27 or q > 55):
        return np.int64(-1)
    upperbit = np.int64(hi >> _U63)
    shift = np.uint64(upperbit + 9)        # upperbit + 64 - 52 - 3
    mantissa = hi >> shift
    power2 = ((((152170 + 65536) * q) >> 16) + 63) + upperbit - lz + 1023
    if power2 <= 0:                        # subnormal
        if -power2 + 1 >= 64:
            return np.int64(0)
        mantissa = mantissa >> np.uint64(-power2 + 1)
        mantissa = mantissa + (mantissa & _U1)
        mantissa = mantissa >> _U1
        power2 = 0 if mantissa < _HIDDEN else 1
        return np.int64(mantissa & (_HIDDEN - _U1)) | (np.int64(power2) << 52)
    if lo <= _U1 and q >= -4 and q <= 23 and (mantissa & _U3) == _U1:
        if (mantissa << shift) == hi:       # exactly halfway: round to even
            mantissa = mantissa & ~_U1
    mantissa = mantissa + (mantissa & _U1)
    mantissa = mantissa >> _U1
    if mantissa >= (_HIDDEN << _U1):
        mantissa = _HIDDEN
        power2 += 1
    mantissa = mantissa & ~_HIDDEN
    if power2 >= 0x7FF:
        return np.int64(0x7FF << 52)
    return np.int64(mantissa) | (np.int64(power2) << 52)


@njit(inline="always", cache=True, error_model="numpy")
def _digits(raw, i, n, w):
    """Past the ASCII digits from *i*, eight at a time where eight follow: (end, w with them appended;
    past 19 digits w wraps, and is not used)."""
    while i + 8 <= n:
        v = _load8(raw, i)
        if not _eight_digits(v):
            break
        w = w * _E8 + _parse_eight(v)
        i += 8
    while i < n and _is_digit(raw[i]):
        w = w * _TEN + np.uint64(raw[i] - 48)
        i += 1
    return i, w


@intrinsic
def _as_bits(typingctx, f):
    """The bits of a float64 as an int64."""
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@njit(cache=True, nogil=True, error_model="numpy")
def scan(raw, min_numbers, max_depth, bits, ints, kinds, recs, dims):
    """Find and convert the number lists of *raw* (uint8). Writes each number's float64 bits into *bits*
    (int64), an int token's value (a BY_FLOAT token's start) into *ints* and a kind other than FLOAT into
    *kinds* (zeros); each list worth reading (outermost, at least *min_numbers* numbers and 2 * min_numbers - 1
    characters, nested at most *max_depth*, followed by what may follow a value) into *recs* (R_* fields) and
    its shape into *dims*. Returns the count of records (in the order of the text), whether the text holds
    no character that YAML text may not hold (a C0 control but tab, LF and CR; DEL; any byte past ASCII), and
    whether it holds no directive (a line starting with `%`) and no CR but before a LF."""
    n = raw.size
    # the open lists but the innermost (whose state is in the variables t_*)
    starts = np.zeros(MAX_FRAMES, np.int64)
    items = np.zeros(MAX_FRAMES, np.int64)
    what = np.zeros(MAX_FRAMES, np.int64)
    status = np.zeros(MAX_FRAMES, np.int64)
    has_int = np.zeros(MAX_FRAMES, np.int64)
    has_float = np.zeros(MAX_FRAMES, np.int64)
    nfix = np.zeros(MAX_FRAMES, np.int64)
    v0 = np.zeros(MAX_FRAMES, np.int64)
    deep = np.zeros(MAX_FRAMES, np.int64)
    lf0 = np.zeros(MAX_FRAMES, np.int64)
    shape = np.zeros((MAX_FRAMES + 1, MAX_FRAMES + 1), np.int64)   # each open list's first child's shape
    shape_len = np.zeros(MAX_FRAMES + 1, np.int64)
    top = -1              # the innermost open list, -1 none
    ghost = 0             # brackets opened past MAX_FRAMES
    item_next = False     # a `[` or `,` came last: an item is expected
    t_start = t_items = t_what = t_status = t_int = t_float = t_fix = t_v0 = 0
    t_deep = 1            # levels of lists in it, itself included
    t_lf = 0              # line feeds before it
    lf = 0                # line feeds so far
    last_lf = -1          # the offset of the last
    clean = True          # no control character so far
    plain = True          # no directive, no CR but before a LF
    # t_what: 0 nothing yet, 1 numbers, 2 lists
    nv = 0
    nrec = 0
    i = 0
    min_chars = 2 * min_numbers - 1
    while i < n:
        c = raw[i]
        k = _CLASS[c]
        if k == 6:
            if c == 10:
                lf += 1
                last_lf = i
            elif c == 13 and (i + 1 >= n or raw[i + 1] != 10):
                plain = False                     # a CR alone: a line break ruamel counts otherwise
            i += 1
            continue
        if k == 1 or k == 2 or k == 7:            # a number (or what starts like one)
            if top < 0 or ghost > 0:
                i += 1
                while i < n and (_CLASS[raw[i]] == 1 or _CLASS[raw[i]] == 2 or _CLASS[raw[i]] == 7):
                    i += 1
                continue
            while True:                           # numbers, and the `, ` between them, without the dispatch
                if not item_next:
                    t_status = max(t_status, DEFER)   # two tokens without a comma between
                item_next = False
                if t_what == 2:
                    t_status = INVALID            # numbers beside lists
                t_what = 1
                t_items += 1
                if _CLASS[raw[i]] == 7:           # `.5`, `.nan`, `-.inf`: the NumPy scan's
                    while i < n and (_CLASS[raw[i]] == 1 or _CLASS[raw[i]] == 2 or _CLASS[raw[i]] == 7):
                        i += 1
                    t_status = max(t_status, DEFER)
                    nv += 1
                    break
                # the token: [+-] digits [. digits] [(e|E) (+|-) digits]; written here rather than called
                # (a helper taking the arrays made the loop several times slower)
                first = i
                neg = raw[i] == 45
                if raw[i] == 45 or raw[i] == 43:
                    i += 1
                p = i
                zeros = -1                            # its leading zeros, where counted at once
                if i + 1 < n and _is_digit(raw[i]) and raw[i + 1] == 46:   # one digit, then the dot (`0.`)
                    w = np.uint64(raw[i] - 48)
                    if w == _U0 and i + 10 <= n:      # `0.`: the zeros after the dot, from 8 bytes at once
                        x = _load8(raw, i + 2) ^ _ZEROS
                        if x != _U0:
                            zeros = 1 + np.int64(trailing_zeros(x)) // 8
                    i += 1
                else:
                    i, w = _digits(raw, i, n, _U0)
                bad = i == p                          # no digit before the dot (`-`, `+.5`)
                is_float = False
                frac = 0
                if i < n and raw[i] == 46:            # .
                    is_float = True
                    f0 = i + 1
                    i, w = _digits(raw, f0, n, w)
                    frac = i - f0
                nd = i - p - (1 if is_float else 0)   # the digits
                if zeros >= 0:
                    nd -= zeros                       # the significant ones: without the leading zeros
                elif nd > 19 or (nd > 18 and not is_float):
                    j = p
                    while j < i and (raw[j] == 48 or raw[j] == 46):
                        if raw[j] == 48:
                            nd -= 1
                        j += 1
                e = 0
                if i < n and (raw[i] == 101 or raw[i] == 69):   # e E
                    is_float = True
                    i += 1
                    eneg = False
                    if i < n and (raw[i] == 45 or raw[i] == 43):
                        eneg = raw[i] == 45
                        i += 1
                    else:
                        bad = True                    # `1e5`: a string to YAML 1.2
                    if i >= n or not _is_digit(raw[i]):
                        bad = True
                    while i < n and _is_digit(raw[i]):
                        if e < 100000:
                            e = e * 10 + (raw[i] - 48)
                        i += 1
                    if eneg:
                        e = -e
                if i < n and (_CLASS[raw[i]] == 1 or _CLASS[raw[i]] == 2 or _CLASS[raw[i]] == 7):
                    bad = True                        # more of the token: `1.5.2`, `1-2`, `5.nan`
                    while i < n and (_CLASS[raw[i]] == 1 or _CLASS[raw[i]] == 2 or _CLASS[raw[i]] == 7):
                        i += 1
                if bad or (not is_float and nd > 18):
                    t_status = max(t_status, DEFER)   # the NumPy scan's (an int of 19 digits and more too)
                elif not is_float:
                    iv = np.int64(w)
                    ints[nv] = -iv if neg else iv
                    kinds[nv] = INT
                    b = _as_bits(float(w)) if w <= _TWO53 else eisel_lemire(w, 0)
                    bits[nv] = (b | _SIGN) if neg and w != _U0 else b   # 0.0 for -0: the int 0
                    t_int = 1
                else:
                    q = e - frac
                    if nd > 19:                       # w wrapped (it may even be 0): float()
                        b = np.int64(-1)
                    elif w == _U0:
                        b = np.int64(0)
                    elif w <= _TWO53 and -22 <= q <= 22:   # Clinger: exact operands, one rounding
                        b = _as_bits(float(w) * _POW10[q] if q >= 0 else float(w) / _POW10[-q])
                    else:
                        b = eisel_lemire(w, q)
                    if b < 0:                         # float() of the token, which starts at ints[nv]
                        ints[nv] = first
                        kinds[nv] = BY_FLOAT
                        t_fix += 1
                    else:
                        bits[nv] = (b | _SIGN) if neg else b
                    t_float = 1
                nv += 1
                while i < n and raw[i] == 32:
                    i += 1
                if i >= n or raw[i] != 44:        # no `,`: the main loop's
                    break
                i += 1
                item_next = True
                while i < n and (raw[i] == 32 or raw[i] == 10 or raw[i] == 13):
                    if raw[i] == 10:
                        lf += 1
                        last_lf = i
                    elif raw[i] == 13 and (i + 1 >= n or raw[i + 1] != 10):
                        plain = False
                    i += 1
                if i >= n or not (_is_digit(raw[i]) or raw[i] == 45):
                    break
            continue
        if k == 5:                                 # ,
            if top >= 0 and ghost == 0:
                if item_next:
                    t_status = max(t_status, DEFER)   # an empty item
                item_next = True
            i += 1
            continue
        if k == 3:                                 # [
            i += 1
            if ghost > 0 or top + 1 >= MAX_FRAMES:
                ghost += 1
                t_status = INVALID
                for t in range(top):
                    status[t] = INVALID
                continue
            if top >= 0:
                if not item_next:
                    t_status = max(t_status, DEFER)
                if t_what == 1:
                    t_status = INVALID
                t_what = 2
                starts[top], items[top], what[top], status[top] = t_start, t_items, t_what, t_status
                has_int[top], has_float[top], nfix[top], v0[top], deep[top] = t_int, t_float, t_fix, t_v0, t_deep
                lf0[top] = t_lf
            top += 1
            t_start, t_items, t_what, t_status = i - 1, 0, 0, OK
            t_int = t_float = t_fix = 0
            t_v0, t_deep, t_lf = nv, 1, lf
            shape_len[top] = 0
            item_next = True
            continue
        if k == 4:                                 # ]
            i += 1
            if ghost > 0:
                ghost -= 1
                continue
            if top < 0:
                continue                           # a stray `]` closes nothing
            if item_next:
                t_status = max(t_status, DEFER)   # `[]`, `[1, ]`
            item_next = False
            t = top
            nd_ = 1 + shape_len[t]                # this list's shape: its items, then its first child's
            if t_status != INVALID and t_deep <= max_depth:
                total = t_items
                for j in range(shape_len[t]):
                    total *= shape[t, j]
                if total >= min_numbers and i - t_start >= min_chars and _after(raw, i):
                    while nrec > 0 and recs[nrec - 1, R_START] > t_start:
                        nrec -= 1                  # the lists inside it
                    recs[nrec, R_START], recs[nrec, R_END] = t_start, i
                    recs[nrec, R_V0], recs[nrec, R_V1] = t_v0, nv
                    recs[nrec, R_STATUS], recs[nrec, R_DEPTH], recs[nrec, R_NDIMS] = t_status, t_deep, nd_
                    recs[nrec, R_INTS], recs[nrec, R_FLOATS], recs[nrec, R_FIX] = t_int, t_float, t_fix
                    recs[nrec, R_BREAKS], recs[nrec, R_LAST_BREAK] = lf - t_lf, last_lf
                    dims[nrec, 0] = t_items
                    for j in range(shape_len[t]):
                        dims[nrec, j + 1] = shape[t, j]
                    nrec += 1
            top -= 1
            if top < 0:
                continue
            p = top                                # into the parent: the same shape as its first child?
            c_items, c_status, c_deep = t_items, t_status, t_deep
            t_start, t_items, t_what, t_status = starts[p], items[p], what[p], status[p]
            t_int, t_float, t_fix, t_v0, t_deep = has_int[p] | t_int, has_float[p] | t_float, nfix[p] + t_fix, v0[p], deep[p]
            t_lf = lf0[p]
            if c_status > t_status:
                t_status = c_status
            if c_deep + 1 > t_deep:
                t_deep = c_deep + 1
            t_items += 1
            if t_items == 1:
                shape[p, 0] = c_items
                for j in range(shape_len[t]):
                    shape[p, j + 1] = shape[t, j]
                shape_len[p] = nd_
            elif shape_len[p] != nd_ or shape[p, 0] != c_items:
                t_status = INVALID                 # ragged
            else:
                for j in range(shape_len[t]):
                    if shape[p, j + 1] != shape[t, j]:
                        t_status = INVALID
                        break
            continue
        # no character of a number list: whatever is open is no list of numbers
        if (c < 32 and c != 9) or c >= 127:
            clean = False
        elif c == 37 and (i == 0 or raw[i - 1] == 10):
            plain = False                         # `%` starting a line: a directive (%YAML 1.1 types numbers otherwise)
        top = -1
        ghost = 0
        item_next = False
        i += 1
    return nrec, clean, plain


@njit(inline="always", cache=True)
def _after(raw, i):
    """What follows a list at *i* may follow a value: spaces, then `,` `]` `}` a line break or the end; or a
    comment after at least one space (fast_numbers._AFTER)."""
    n = raw.size
    j = i
    while j < n and raw[j] == 32:
        j += 1
    if j >= n:
        return True
    c = raw[j]
    if c == 44 or c == 93 or c == 125 or c == 13 or c == 10:
        return True
    return c == 35 and j > i
