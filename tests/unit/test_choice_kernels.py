"""The route-choice kernels' own delay functions agree with the shared ones."""

from __future__ import annotations

import numpy as np
import pytest

from karvan import kernels as K
from karvan.kernels import logit as KL


def test_scalar_delay_functions_equal_the_array_kernels():
    rng = np.random.default_rng(1)
    n = 300
    kind = rng.integers(0, 3, n)
    fft = rng.uniform(0.0, 5.0, n)
    cap = rng.uniform(1.0, 100.0, n)
    alpha = np.where(kind == 1, rng.uniform(1.5, 8.0, n), rng.uniform(0.0, 2.0, n))
    beta = np.where(kind == 1, (2 * alpha - 1) / (2 * alpha - 2),
                    rng.choice([0.0, 1.0, 2.5, 4.0], n))
    v = rng.uniform(0.0, 200.0, n)
    t = np.empty(n)
    dt = np.empty(n)
    KL.arc_times(v, fft, cap, alpha, beta, kind, t, dt)
    assert t == pytest.approx(K.link_time(v, fft, cap, alpha, beta, kind, np.empty(n)),
                              rel=1e-13)
    assert dt == pytest.approx(K.link_time_derivative(v, fft, cap, alpha, beta, kind,
                                                      np.empty(n)), rel=1e-12, abs=1e-15)
