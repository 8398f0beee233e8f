"""Test functions with known sensitivity indices, run through the same experiment code as the
corridor (a model with ``evaluate``, inputs from :func:`karvan.explore.inputs.ranges_inputs`).

References
----------
T. Ishigami and T. Homma, "An importance quantification technique in uncertainty analysis for
computer models", ISUMA 1990. Sobol indices: A. Saltelli et al., Global Sensitivity Analysis: The
Primer, Wiley 2008, section 4.7.
"""

from __future__ import annotations

import math

import numpy as np

from karvan.explore.inputs import InputSet, ranges_inputs

ISHIGAMI_A = 7.0
ISHIGAMI_B = 0.1


def ishigami_inputs() -> InputSet:
    """x1, x2, x3 uniform on [-pi, pi]."""
    return ranges_inputs({f"x{i}": (-math.pi, math.pi) for i in (1, 2, 3)})


def ishigami_indices(a: float = ISHIGAMI_A, b: float = ISHIGAMI_B) -> dict[str, np.ndarray]:
    """Analytical first-order (S1) and total (ST) Sobol indices of x1, x2, x3."""
    pi = math.pi
    v1 = 0.5 * (1 + b * pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * pi**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return {"S1": np.array([v1, v2, 0.0]) / v, "ST": np.array([v1 + v13, v2, v13]) / v}


class IshigamiModel:
    """y = sin x1 + a sin^2 x2 + b x3^4 sin x1, inputs in the order of
    :func:`ishigami_inputs`."""

    def __init__(self, a: float = ISHIGAMI_A, b: float = ISHIGAMI_B) -> None:
        self.a, self.b = a, b

    def evaluate(self, values: np.ndarray | None) -> dict[str, float]:
        """``{"y": y}`` at ``values`` (x1, x2, x3; None: all 0)."""
        x1, x2, x3 = (0.0, 0.0, 0.0) if values is None else (float(v) for v in values)
        return {"y": math.sin(x1) + self.a * math.sin(x2) ** 2
                + self.b * x3**4 * math.sin(x1)}


class LinearModel:
    """y = sum of coefs[i] * x[i]: Morris elementary effects are exactly the coefficients times
    the inputs' ranges."""

    def __init__(self, coefs: tuple[float, ...] = (3.0, -1.0, 0.0)) -> None:
        self.coefs = np.asarray(coefs, dtype=float)

    def evaluate(self, values: np.ndarray | None) -> dict[str, float]:
        """``{"y": y}`` at ``values`` (one per coefficient; None: all 0)."""
        x = np.zeros(len(self.coefs)) if values is None else np.asarray(values, dtype=float)
        return {"y": float(self.coefs @ x)}
