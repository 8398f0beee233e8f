"""Volume-delay functions, their integrals and derivatives, and the exact line search.

Arc arrays: ``fft`` free-flow time, ``cap`` capacity, ``alpha``/``beta`` parameters and ``kind``
(one of the ``VDF_*`` codes) per arc. Volume ``v`` is in capacity units.

BPR:      t = fft (1 + alpha (v/cap)^beta)
Conical:  t = fft (2 + sqrt(alpha^2 (1 - x)^2 + beta^2) - alpha (1 - x) - beta),  x = v/cap
          (Spiess 1990; with beta = (2 alpha - 1)/(2 alpha - 2), t(0) = fft and t(cap) = 2 fft)
Constant: t = fft
"""

from __future__ import annotations

import math

import numpy as np

from karvan.kernels._jit import JIT, njit

VDF_BPR = 0
VDF_CONICAL = 1
VDF_CONSTANT = 2

_GL_NODES = np.array([-0.9061798459386640, -0.5384693101056831, 0.0, 0.5384693101056831,
                      0.9061798459386640])
_GL_WEIGHTS = np.array([0.2369268850561891, 0.4786286704993665, 0.5688888888888889,
                        0.4786286704993665, 0.2369268850561891])


@njit(**JIT)
def _conical_g(u, a, b):
    # antiderivative of sqrt(a^2 u^2 + b^2) in u
    r = math.sqrt(a * a * u * u + b * b)
    if b == 0.0:
        return 0.5 * a * u * abs(u)
    return 0.5 * u * r + (b * b) / (2.0 * a) * math.asinh(a * u / b)


@njit(**JIT)
def _time(v, fft, cap, a, b, kind):
    if v < 0.0:
        v = 0.0
    if kind == VDF_BPR:
        if a == 0.0 or fft == 0.0:
            return fft
        x = v / cap
        if b == 4.0:
            x2 = x * x
            p = x2 * x2
        elif b == 1.0:
            p = x
        else:
            p = x**b
        return fft * (1.0 + a * p)
    if kind == VDF_CONICAL:
        u = 1.0 - v / cap
        return fft * (2.0 + math.sqrt(a * a * u * u + b * b) - a * u - b)
    return fft


@njit(**JIT)
def _dtime(v, fft, cap, a, b, kind):
    if v < 0.0:
        v = 0.0
    if kind == VDF_BPR:
        if a == 0.0 or fft == 0.0 or b == 0.0:
            return 0.0
        x = v / cap
        if b == 4.0:
            p = x * x * x
        elif b == 1.0:
            p = 1.0
        else:
            p = x ** (b - 1.0)
        return fft * a * b * p / cap
    if kind == VDF_CONICAL:
        u = 1.0 - v / cap
        r = math.sqrt(a * a * u * u + b * b)
        d = a
        if r > 0.0:
            d = a - a * a * u / r
        return fft * d / cap
    return 0.0


@njit(**JIT)
def _itime(v, fft, cap, a, b, kind):
    if v < 0.0:
        v = 0.0
    if kind == VDF_BPR:
        if a == 0.0 or fft == 0.0:
            return fft * v
        x = v / cap
        return fft * (v + a * cap / (b + 1.0) * x ** (b + 1.0))
    if kind == VDF_CONICAL:
        x = v / cap
        if x < 0.125:
            # int_{1-x}^{1} sqrt(a^2 u^2 + b^2) du by 5-point Gauss-Legendre: the closed form
            # below cancels catastrophically for small x
            h = 0.5 * x
            mid = 1.0 - h
            s = 0.0
            for i in range(5):
                u = mid + h * _GL_NODES[i]
                s += _GL_WEIGHTS[i] * math.sqrt(a * a * u * u + b * b)
            g = cap * h * s
        else:
            g = cap * (_conical_g(1.0, a, b) - _conical_g(1.0 - x, a, b))
        return fft * ((2.0 - b) * v - a * (v - v * x / 2.0) + g)
    return fft * v


@njit(**JIT)
def link_time(v, fft, cap, alpha, beta, kind, out):
    """Arc times at volumes ``v`` into ``out``."""
    for i in range(v.shape[0]):
        out[i] = _time(v[i], fft[i], cap[i], alpha[i], beta[i], kind[i])
    return out


@njit(**JIT)
def link_time_derivative(v, fft, cap, alpha, beta, kind, out):
    """Arc time derivatives dt/dv at volumes ``v`` into ``out``."""
    for i in range(v.shape[0]):
        out[i] = _dtime(v[i], fft[i], cap[i], alpha[i], beta[i], kind[i])
    return out


@njit(**JIT)
def link_time_integral(v, fft, cap, alpha, beta, kind):
    """Sum over arcs of the integral of t from 0 to v (the congestion part of Beckmann's
    objective)."""
    s = 0.0
    for i in range(v.shape[0]):
        s += _itime(v[i], fft[i], cap[i], alpha[i], beta[i], kind[i])
    return s


@njit(**JIT)
def _dphi(lam, v, dv, fixed, fft, cap, alpha, beta, kind):
    s = fixed
    h = 0.0
    for i in range(v.shape[0]):
        d = dv[i]
        if d == 0.0:
            continue
        w = v[i] + lam * d
        s += _time(w, fft[i], cap[i], alpha[i], beta[i], kind[i]) * d
        h += _dtime(w, fft[i], cap[i], alpha[i], beta[i], kind[i]) * d * d
    return s, h


@njit(**JIT)
def line_search(v, dv, fixed, fft, cap, alpha, beta, kind, max_step):
    """Exact line search: the step in [0, max_step] that minimises Beckmann's objective along dv.

    phi'(lam) = sum_a t_a(v_a + lam dv_a) dv_a + fixed, with ``fixed`` the directional derivative of
    the linear (flow-independent) cost terms. phi' is non-decreasing; the root is found by Newton
    steps kept inside a shrinking bracket, falling back to bisection.
    """
    lo = 0.0
    hi = max_step
    g_lo, h_lo = _dphi(lo, v, dv, fixed, fft, cap, alpha, beta, kind)
    if g_lo >= 0.0:
        return 0.0
    g_hi, h_hi = _dphi(hi, v, dv, fixed, fft, cap, alpha, beta, kind)
    if g_hi <= 0.0:
        return hi
    lam = 0.5 * (lo + hi)
    if h_lo > 0.0:
        t = lo - g_lo / h_lo
        if lo < t < hi:
            lam = t
    for _ in range(200):
        g, h = _dphi(lam, v, dv, fixed, fft, cap, alpha, beta, kind)
        if g > 0.0:
            hi = lam
        elif g < 0.0:
            lo = lam
        else:
            return lam
        if hi - lo <= 1e-15 * max(1.0, hi):
            break
        nxt = 0.5 * (lo + hi)
        if h > 0.0:
            t = lam - g / h
            if lo < t < hi:
                nxt = t
        if nxt == lam:
            break
        lam = nxt
    return lam
