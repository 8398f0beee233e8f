"""The Gauss-Seidel Newton sweep of the stochastic user equilibrium over route sets (and the
gradient-projection sweep of its deterministic limit), with augmented-Lagrangian side-constraint
terms. Storage and conventions as in :mod:`karvan.kernels.logit`.
"""

from __future__ import annotations

import math

import numpy as np

from karvan.kernels._jit import JIT, njit
from karvan.kernels.logit import MAX_ROUTES, vdf_dtime, vdf_time


@njit(**JIT)
def _chol(H, n):
    """In-place Cholesky factor (lower) of H[:n, :n]; returns False if not positive definite."""
    for j in range(n):
        s = H[j, j]
        for k in range(j):
            s -= H[j, k] * H[j, k]
        if s <= 0.0:
            return False
        s = math.sqrt(s)
        H[j, j] = s
        for i in range(j + 1, n):
            t = H[i, j]
            for k in range(j):
                t -= H[i, k] * H[j, k]
            H[i, j] = t / s
    return True


@njit(**JIT)
def _chol_solve(L, n, b):
    for i in range(n):
        s = b[i]
        for k in range(i):
            s -= L[i, k] * b[k]
        b[i] = s / L[i, i]
    for i in range(n - 1, -1, -1):
        s = b[i]
        for k in range(i + 1, n):
            s -= L[k, i] * b[k]
        b[i] = s / L[i, i]


@njit(**JIT)
def _add_mask(H, act, na, mk, hv, lst):
    """Add hv to the lower triangle of H at every pair of active routes in the mask mk."""
    m = 0
    for ii in range(na):
        if (mk >> np.int64(act[ii])) & 1:
            lst[m] = ii
            m += 1
    for x in range(m):
        ii = lst[x]
        for y in range(x + 1):
            H[ii, lst[y]] += hv


@njit(**JIT)
def _curve(alpha, mode, r0, nr, h, d, du, q, hn, hp):
    """Route flows of the OD pair at step ``alpha`` along the search curve into ``hn`` and their
    derivative in alpha into ``hp``: mode 0 the line h + alpha d, mode 1 the logarithmic curve
    h_i exp(alpha du_i) rescaled to the demand q (routes with du = -inf keep 0)."""
    if mode == 0:
        for i in range(nr):
            hn[i] = h[r0 + i] + alpha * d[i]
            hp[i] = d[i]
        return
    mx = -np.inf
    for i in range(nr):
        if h[r0 + i] > 0.0:
            e = math.log(h[r0 + i]) + alpha * du[i]
            hn[i] = e
            if e > mx:
                mx = e
    s = 0.0
    for i in range(nr):
        if h[r0 + i] > 0.0:
            hn[i] = math.exp(hn[i] - mx)
            s += hn[i]
        else:
            hn[i] = 0.0
    ub = 0.0
    for i in range(nr):
        hn[i] = q * hn[i] / s
        if hn[i] > 0.0:
            ub += hn[i] * du[i]
    ub /= q
    for i in range(nr):
        hp[i] = hn[i] * (du[i] - ub) if hn[i] > 0.0 else 0.0


@njit(**JIT)
def _slope(alpha, mode, nu, uarc, uV, k, fixed, v, fft, cap, al, be, kind, arc_cons_ptr,
           arc_cons, cons_cap, mu, rho, S, dS, ctouch, nt, r0, nr, route_ptr, route_arcs,
           route_fixed, slot, lnps, h, d, du, q, th, pk, uc, hn, hp):
    """Slope in alpha of the objective restricted to one OD pair along the search curve; also
    leaves the flows at alpha in ``hn``, the arc volume changes in ``uV`` and the constraint
    volume changes in ``dS``."""
    _curve(alpha, mode, r0, nr, h, d, du, q, hn, hp)
    for u in range(nu):
        uV[u] = 0.0
    for i in range(nr):
        dh = hn[i] - h[r0 + i]
        if dh == 0.0:
            continue
        dh *= pk
        r = r0 + i
        for x in range(route_ptr[r], route_ptr[r + 1]):
            uV[slot[route_arcs[x]]] += dh
    for x in range(nt):
        dS[ctouch[x]] = 0.0
    if nt > 0:
        for u in range(nu):
            a = uarc[u]
            for x in range(arc_cons_ptr[a], arc_cons_ptr[a + 1]):
                dS[arc_cons[x]] += uV[u]
    for u in range(nu):
        a = uarc[u]
        c = vdf_time(v[a] + uV[u], fft[a], cap[a], al[a], be[a], kind[a]) + fixed[k, a]
        for x in range(arc_cons_ptr[a], arc_cons_ptr[a + 1]):
            j = arc_cons[x]
            val = mu[j] + rho[j] * (S[j] + dS[j] - cons_cap[j])
            if val > 0.0:
                c += val
        uc[u] = c
    s = 0.0
    for i in range(nr):
        if hp[i] == 0.0:
            continue
        if hn[i] <= 0.0:
            # the entropy term's slope is -inf at zero flow
            return np.inf if hp[i] < 0.0 else -np.inf
        r = r0 + i
        c = route_fixed[r]
        for x in range(route_ptr[r], route_ptr[r + 1]):
            c += uc[slot[route_arcs[x]]]
        if th == np.inf:
            s += hp[i] * c
        else:
            s += hp[i] * (c + (math.log(hn[i]) - lnps[r]) / th)
    return s


_GL_X = np.array([-0.9061798459386640, -0.5384693101056831, 0.0, 0.5384693101056831,
                  0.9061798459386640])
_GL_W = np.array([0.2369268850561891, 0.4786286704993665, 0.5688888888888889,
                  0.4786286704993665, 0.2369268850561891])


@njit(**JIT)
def _time_integral(v0, dv, fft, cap, a, b, kind):
    # int_{v0}^{v0+dv} time: 5-point Gauss-Legendre (exact for BPR with integer beta <= 9)
    if dv == 0.0:
        return 0.0
    s = 0.0
    for i in range(5):
        s += _GL_W[i] * vdf_time(v0 + 0.5 * dv * (1.0 + _GL_X[i]), fft, cap, a, b, kind)
    return 0.5 * dv * s


@njit(**JIT)
def _delta_objective(nu, uarc, uV, k, fixed, v, fft, cap, al, be, kind, cons_cap, mu, rho, S,
                     dS, ctouch, nt, r0, nr, route_ptr, route_arcs, route_fixed, lnps, h, hn,
                     th, pk):
    """Change of the objective restricted to one OD pair (divided by its pce) when its flows go
    from h to hn (arc changes uV, constraint changes dS already filled by _slope), and the sum
    of the magnitudes of its terms (the scale of its rounding error)."""
    s = 0.0
    mag = 0.0
    for u in range(nu):
        if uV[u] != 0.0:
            a = uarc[u]
            e = (_time_integral(v[a], uV[u], fft[a], cap[a], al[a], be[a], kind[a])
                 + fixed[k, a] * uV[u]) / pk
            s += e
            mag += abs(e)
    for x in range(nt):
        j = ctouch[x]
        if rho[j] > 0.0:
            e0 = max(0.0, mu[j] + rho[j] * (S[j] - cons_cap[j]))
            e1 = max(0.0, mu[j] + rho[j] * (S[j] + dS[j] - cons_cap[j]))
            e = (e1 * e1 - e0 * e0) / (2.0 * rho[j]) / pk
            s += e
            mag += abs(e)
    for i in range(nr):
        r = r0 + i
        dh = hn[i] - h[r]
        e = dh * route_fixed[r]
        if th != np.inf and dh != 0.0:
            # hn (ln hn - w) - h (ln h - w) = dh (ln h - w) + hn ln(1 + dh / h), written so
            # that rounding scales with dh, not with h ln h
            if h[r] > 0.0:
                e += dh * (math.log(h[r]) - lnps[r]) / th
                if hn[i] > 0.0:
                    e += hn[i] * math.log1p(dh / h[r]) / th
            else:
                e += hn[i] * (math.log(hn[i]) - lnps[r]) / th
        s += e
        mag += abs(e)
    return s, mag


@njit(**JIT)
def newton_sweep(od_order, od_ptr, od_class, od_demand, route_ptr, route_arcs, route_fixed,
                 lnps, theta, pce, fixed, fft, cap, al, be, kind, v, t, dt, arc_cons_ptr,
                 arc_cons, cons_ptr, cons_arcs, cons_cap, mu, rho, S, surch, dsurch, h, stats,
                 skip_tol):
    """One Gauss-Seidel sweep over the OD pairs in ``od_order``: each OD pair's route flows
    ``h`` move along a Newton direction of the objective restricted to them, with an exact line
    search, and the volumes ``v``, times ``t``, derivatives ``dt``, constraint volumes ``S`` and
    surcharges are updated before the next OD pair.

    Finite theta (logit): the objective is Fisk's, sum of time integrals plus
    ``sum_p h_p (ln(h_p) - lnps_p) / theta`` per class. The Newton direction d solves the
    equality-constrained system with the dense route Hessian ``pce * sum over shared arcs of
    (t' + surcharge') + diag(1 / (theta h))``; flows then move along the curve
    ``h_i exp(alpha d_i / h_i)`` rescaled to the demand, whose tangent at 0 is d and which never
    reaches zero (a straight step is cut short by the first route it empties, which stalls on
    routes whose flow should fall by orders of magnitude). Routes with no flow whose logit share
    at the current costs is positive first receive flow by a straight step toward that loading.

    Infinite theta (deterministic): gradient projection; every route's flow moves to the
    cheapest route by (cost difference) / (second derivative over the arcs not shared), at most
    all of it (Jayakrishnan et al. 1994).

    ``stats`` counts the steps taken (added to): 0 gradient projection, 1 straight steps toward
    the loading, 2 Newton steps taken whole, 3 shortened by the line search, 4 halved for
    descent, 5 OD pairs left unchanged, 6 slope evaluations in line searches.
    """
    m = v.shape[0]
    n_cons = cons_cap.shape[0]
    mark = np.full(m, -1, np.int64)
    slot = np.zeros(m, np.int64)
    uarc = np.empty(m, np.int64)
    umask = np.empty(m, np.int64)
    uV = np.empty(m)
    uc = np.empty(m)
    dS = np.zeros(n_cons)
    ctouch = np.empty(n_cons, np.int64)
    cmark = np.full(n_cons, -1, np.int64)
    H = np.empty((MAX_ROUTES, MAX_ROUTES))
    z = np.empty(MAX_ROUTES)
    one = np.empty(MAX_ROUTES)
    c = np.empty(MAX_ROUTES)
    d = np.empty(MAX_ROUTES)
    du = np.empty(MAX_ROUTES)
    y = np.empty(MAX_ROUTES)
    hn = np.empty(MAX_ROUTES)
    hp = np.empty(MAX_ROUTES)
    act = np.empty(MAX_ROUTES, np.int64)
    lst = np.empty(MAX_ROUTES, np.int64)
    mks = np.empty(256, np.int64)
    mkv = np.empty(256)
    moved = 0
    for wi in range(od_order.shape[0]):
        w = od_order[wi]
        r0 = od_ptr[w]
        r1 = od_ptr[w + 1]
        nr = r1 - r0
        if nr <= 1:
            continue
        k = od_class[w]
        th = theta[k]
        pk = pce[k]
        q = od_demand[w]
        # union of the OD pair's arcs, with a bit per route using each
        nu = 0
        for i in range(nr):
            r = r0 + i
            bit = np.int64(1) << np.int64(i)
            for x in range(route_ptr[r], route_ptr[r + 1]):
                a = route_arcs[x]
                if mark[a] != wi:
                    mark[a] = wi
                    slot[a] = nu
                    uarc[nu] = a
                    umask[nu] = 0
                    nu += 1
                umask[slot[a]] |= bit
        nt = 0
        for u in range(nu):
            a = uarc[u]
            uc[u] = t[a] + fixed[k, a] + surch[a]
            for x in range(arc_cons_ptr[a], arc_cons_ptr[a + 1]):
                j = arc_cons[x]
                if cmark[j] != wi:
                    cmark[j] = wi
                    ctouch[nt] = j
                    nt += 1
        cmin = np.inf
        best = 0
        for i in range(nr):
            r = r0 + i
            s = route_fixed[r]
            for x in range(route_ptr[r], route_ptr[r + 1]):
                s += uc[slot[route_arcs[x]]]
            c[i] = s
            if s < cmin:
                cmin = s
                best = i
        for i in range(nr):
            d[i] = 0.0
        mode = 0
        search = True
        if th == np.inf:
            # gradient projection toward the cheapest route
            any_shift = False
            bb = np.int64(1) << np.int64(best)
            for i in range(nr):
                r = r0 + i
                if i == best or h[r] <= 0.0:
                    continue
                dc = c[i] - cmin
                if dc <= 0.0:
                    continue
                bi = np.int64(1) << np.int64(i)
                hess = 0.0
                for u in range(nu):
                    mk = umask[u] & (bi | bb)
                    if mk == bi or mk == bb:
                        a = uarc[u]
                        hess += pk * (dt[a] + dsurch[a])
                shift = h[r]
                if hess > 0.0 and dc / hess < shift:
                    shift = dc / hess
                d[i] = -shift
                d[best] += shift
                any_shift = True
            if not any_shift:
                stats[5] += 1
                continue
            search = False
            stats[0] += 1
        else:
            # logit: the loading at current costs
            mx = -np.inf
            for i in range(nr):
                uu = -th * c[i] + lnps[r0 + i]
                y[i] = uu
                if uu > mx:
                    mx = uu
            sy = 0.0
            for i in range(nr):
                y[i] = math.exp(y[i] - mx)
                sy += y[i]
            need_y = False
            tv = 0.0
            for i in range(nr):
                y[i] = q * y[i] / sy
                if h[r0 + i] <= 0.0 and y[i] > 1e-15 * q:
                    need_y = True
                tv += abs(h[r0 + i] - y[i])
            if tv <= skip_tol * q:
                # converged OD pair: its flows differ from their own logit loading by less
                # than ``skip_tol`` of its demand
                stats[5] += 1
                continue
            if need_y or tv > 0.05 * q:
                # far from the loading (or routes without flow): a straight step toward it,
                # along which the objective is convex
                stats[1] += 1
                for i in range(nr):
                    d[i] = y[i] - h[r0 + i]
            else:
                na = 0
                for i in range(nr):
                    if h[r0 + i] > 0.0:
                        act[na] = i
                        na += 1
                if na <= 1:
                    continue
                for ii in range(na):
                    for jj in range(na):
                        H[ii, jj] = 0.0
                # arcs used by the same routes (a shared trunk, a route's own stretch) add to
                # the same Hessian entries: sum their derivatives per distinct route mask first
                n_mk = 0
                for u in range(nu):
                    a = uarc[u]
                    hv = pk * (dt[a] + dsurch[a])
                    if hv == 0.0:
                        continue
                    mk = umask[u]
                    found = False
                    for x in range(n_mk):
                        if mks[x] == mk:
                            mkv[x] += hv
                            found = True
                            break
                    if not found:
                        if n_mk < mks.shape[0]:
                            mks[n_mk] = mk
                            mkv[n_mk] = hv
                            n_mk += 1
                        else:
                            _add_mask(H, act, na, mk, hv, lst)
                for x in range(n_mk):
                    _add_mask(H, act, na, mks[x], mkv[x], lst)
                for ii in range(na):
                    r = r0 + act[ii]
                    H[ii, ii] += 1.0 / (th * h[r])
                    z[ii] = c[act[ii]] + (math.log(h[r]) - lnps[r]) / th
                    one[ii] = 1.0
                if not _chol(H, na):
                    continue
                _chol_solve(H, na, z)
                _chol_solve(H, na, one)
                sz = 0.0
                s1 = 0.0
                for ii in range(na):
                    sz += z[ii]
                    s1 += one[ii]
                lam = sz / s1
                for i in range(nr):
                    du[i] = -np.inf
                # the direction conserves the demand exactly: the route with the most flow
                # takes the rounding
                ib = act[0]
                for ii in range(na):
                    i = act[ii]
                    d[i] = lam * one[ii] - z[ii]
                    if h[r0 + i] > h[r0 + ib]:
                        ib = i
                sd = 0.0
                for ii in range(na):
                    if act[ii] != ib:
                        sd += d[act[ii]]
                d[ib] = -sd
                gb = c[ib] + (math.log(h[r0 + ib]) - lnps[r0 + ib]) / th
                pred = 0.0
                for ii in range(na):
                    i = act[ii]
                    r = r0 + i
                    du[i] = d[i] / h[r]
                    pred += d[i] * (c[i] + (math.log(h[r]) - lnps[r]) / th - gb)
                if not pred < 0.0:
                    # no descent left at working precision: this OD pair is at its optimum
                    stats[5] += 1
                    continue
                mode = 1
        if search:
            # exact line search on the slope of the restricted objective
            lo = 0.0
            hi = 1.0
            if mode == 0:
                for i in range(nr):
                    if d[i] < 0.0:
                        lim = -h[r0 + i] / d[i]
                        if lim < hi:
                            hi = lim
            f_hi = _slope(hi, mode, nu, uarc, uV, k, fixed, v, fft, cap, al, be, kind,
                          arc_cons_ptr, arc_cons, cons_cap, mu, rho, S, dS, ctouch, nt, r0, nr,
                          route_ptr, route_arcs, route_fixed, slot, lnps, h, d, du, q, th, pk,
                          uc, hn, hp)
            alpha = hi
            if f_hi <= 0.0 and mode == 1:
                stats[2] += 1
            if f_hi > 0.0:
                if mode == 1:
                    stats[3] += 1
                f_lo = _slope(0.0, mode, nu, uarc, uV, k, fixed, v, fft, cap, al, be, kind,
                              arc_cons_ptr, arc_cons, cons_cap, mu, rho, S, dS, ctouch, nt, r0,
                              nr, route_ptr, route_arcs, route_fixed, slot, lnps, h, d, du, q,
                              th, pk, uc, hn, hp)
                if f_lo >= 0.0:
                    stats[5] += 1
                    continue
                ref = abs(f_lo) if np.isfinite(f_lo) else -1.0
                f = f_lo
                side = 0
                width = hi - lo
                for it_ls in range(80):
                    # Illinois steps, with a bisection whenever the bracket did not halve
                    # over the last two steps (the slope can jump along the curve)
                    if it_ls % 2 == 0:
                        bisect = hi - lo > 0.5 * width
                        width = hi - lo
                    else:
                        bisect = False
                    if bisect or not (np.isfinite(f_lo) and np.isfinite(f_hi)):
                        alpha = 0.5 * (lo + hi)
                    else:
                        alpha = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
                        if not (lo < alpha < hi):
                            alpha = 0.5 * (lo + hi)
                    f = _slope(alpha, mode, nu, uarc, uV, k, fixed, v, fft, cap, al, be, kind,
                               arc_cons_ptr, arc_cons, cons_cap, mu, rho, S, dS, ctouch, nt,
                               r0, nr, route_ptr, route_arcs, route_fixed, slot, lnps, h, d,
                               du, q, th, pk, uc, hn, hp)
                    stats[6] += 1
                    if ref < 0.0 and np.isfinite(f):
                        ref = abs(f)
                    if abs(f) <= 1e-6 * ref or hi - lo <= 1e-14 * hi:
                        break
                    if f > 0.0:
                        hi = alpha
                        f_hi = f
                        if side == 1:
                            f_lo *= 0.5
                        side = 1
                    else:
                        lo = alpha
                        f_lo = f
                        if side == -1:
                            f_hi *= 0.5
                        side = -1
                if f > 0.0:
                    alpha = lo
                    if alpha <= 0.0:
                        continue
                    _slope(alpha, mode, nu, uarc, uV, k, fixed, v, fft, cap, al, be, kind,
                           arc_cons_ptr, arc_cons, cons_cap, mu, rho, S, dS, ctouch, nt, r0,
                           nr, route_ptr, route_arcs, route_fixed, slot, lnps, h, d, du, q,
                           th, pk, uc, hn, hp)
            big = 0.0
            if mode == 1:
                for i in range(nr):
                    if du[i] != -np.inf and abs(alpha * du[i]) > big:
                        big = abs(alpha * du[i])
            if big > 0.1:
                # along the curve the objective need not be convex: halve the step until it
                # decreases (a step that changes no route's flow by more than about 10 % stays
                # close to the tangent line, along which the objective is convex; its decrease
                # may be below the rounding of the objective's terms, so it is not checked)
                ok = False
                for _ in range(30):
                    dobj, mag = _delta_objective(nu, uarc, uV, k, fixed, v, fft, cap, al, be,
                                                 kind, cons_cap, mu, rho, S, dS, ctouch, nt, r0,
                                                 nr, route_ptr, route_arcs, route_fixed, lnps, h,
                                                 hn, th, pk)
                    # (a change below the rounding of its own terms is no evidence of ascent)
                    if dobj <= 1e-12 * mag:
                        ok = True
                        break
                    stats[4] += 1
                    alpha *= 0.5
                    big *= 0.5
                    _slope(alpha, mode, nu, uarc, uV, k, fixed, v, fft, cap, al, be, kind,
                           arc_cons_ptr, arc_cons, cons_cap, mu, rho, S, dS, ctouch, nt, r0,
                           nr, route_ptr, route_arcs, route_fixed, slot, lnps, h, d, du, q,
                           th, pk, uc, hn, hp)
                    if big <= 0.1:
                        ok = True
                        break
                if not ok:
                    stats[5] += 1
                    continue
        else:
            _slope(1.0, 0, nu, uarc, uV, k, fixed, v, fft, cap, al, be, kind, arc_cons_ptr,
                   arc_cons, cons_cap, mu, rho, S, dS, ctouch, nt, r0, nr, route_ptr,
                   route_arcs, route_fixed, slot, lnps, h, d, du, q, th, pk, uc, hn, hp)
        # apply the step: flows hn, arc changes uV, constraint changes dS
        for i in range(nr):
            h[r0 + i] = hn[i] if hn[i] > 0.0 else 0.0
        for u in range(nu):
            if uV[u] != 0.0:
                a = uarc[u]
                va = v[a] + uV[u]
                if va < 0.0:
                    va = 0.0
                v[a] = va
                t[a] = vdf_time(va, fft[a], cap[a], al[a], be[a], kind[a])
                dt[a] = vdf_dtime(va, fft[a], cap[a], al[a], be[a], kind[a])
        for x in range(nt):
            j = ctouch[x]
            S[j] += dS[j]
        for x in range(nt):
            j = ctouch[x]
            for y2 in range(cons_ptr[j], cons_ptr[j + 1]):
                a = cons_arcs[y2]
                sa = 0.0
                ds = 0.0
                for z2 in range(arc_cons_ptr[a], arc_cons_ptr[a + 1]):
                    jj = arc_cons[z2]
                    val = mu[jj] + rho[jj] * (S[jj] - cons_cap[jj])
                    if val > 0.0:
                        sa += val
                        ds += rho[jj]
                surch[a] = sa
                dsurch[a] = ds
        moved += 1
    return moved
