"""Distributions of uncertain inputs, as quantile functions of a point of the unit cube.

A sampler draws points ``u`` in (0, 1); an input's value is its distribution's quantile at ``u``
(inverse-transform sampling), so that Latin hypercube and Sobol designs keep their structure in
the input space.

- ``lognormal``: a factor with median 1, ``exp(sigma * z)`` with z the standard normal quantile;
- ``normal``: ``mean + sigma * z`` (a calibrated parameter with its standard error);
- ``uniform``: between ``low`` and ``high``;
- ``loguniform``: uniform in log between ``low`` and ``high`` (both > 0);
- ``triangular``: between ``low`` and ``high`` with its mode at ``mode``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

DISTRIBUTIONS = ("lognormal", "normal", "uniform", "loguniform", "triangular")

#: points of the unit cube are kept this far from 0 and 1 (a Sobol point may be exactly 0)
U_EPS = 1e-12


@dataclass(frozen=True, slots=True)
class Distribution:
    """One input's distribution (see the module notes for the parameters of each kind)."""

    kind: str
    sigma: float = math.nan
    low: float = math.nan
    high: float = math.nan
    mean: float = math.nan
    mode: float = math.nan

    def problems(self) -> list[str]:
        """What is wrong with the parameters (empty when valid)."""
        k = self.kind
        if k not in DISTRIBUTIONS:
            return [f"unknown distribution {k!r}; use one of {', '.join(DISTRIBUTIONS)}"]
        out = []
        if k in ("lognormal", "normal") and not (math.isfinite(self.sigma) and self.sigma > 0):
            out.append(f"{k} needs sigma > 0 (got {self.sigma})")
        if k == "normal" and not math.isfinite(self.mean):
            out.append(f"normal needs a finite mean (got {self.mean})")
        if k in ("uniform", "loguniform", "triangular"):
            if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
                out.append(f"{k} needs finite low < high (got low {self.low}, high {self.high})")
            elif k == "loguniform" and self.low <= 0:
                out.append(f"loguniform needs low > 0 (got {self.low})")
            elif k == "triangular" and not (self.low <= self.mode <= self.high):
                out.append(f"triangular needs low <= mode <= high (got mode {self.mode})")
        return out

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """The values at quantiles ``u`` (clipped into the open unit interval).

        Raises
        ------
        ValueError
            When the kind is not one of :data:`DISTRIBUTIONS`.
        """
        u = np.clip(np.asarray(u, dtype=float), U_EPS, 1.0 - U_EPS)
        k = self.kind
        if k == "lognormal":
            return np.exp(self.sigma * special.ndtri(u))
        if k == "normal":
            return self.mean + self.sigma * special.ndtri(u)
        if k == "uniform":
            return self.low + u * (self.high - self.low)
        if k == "loguniform":
            return np.exp(np.log(self.low) + u * (np.log(self.high) - np.log(self.low)))
        if k == "triangular":
            a, b, c = self.low, self.high, self.mode
            fc = (c - a) / (b - a)
            left = a + np.sqrt(u * (b - a) * (c - a))
            right = b - np.sqrt((1.0 - u) * (b - a) * (b - c))
            return np.where(u < fc, left, right)
        raise ValueError(f"unknown distribution {k!r}")

    def cdf(self, x: float) -> float:
        """The quantile at which the distribution takes the value ``x`` (0 below its support,
        1 above it): where a dataset's figure lies among the draws.

        Raises
        ------
        ValueError
            When the kind is not one of :data:`DISTRIBUTIONS`.

        Examples
        --------
        >>> Distribution("uniform", low=7e6, high=11e6).cdf(11e6)
        1.0
        >>> round(Distribution("lognormal", sigma=0.3).cdf(1.0), 3)
        0.5
        """
        k = self.kind
        if not math.isfinite(x):
            return math.nan if math.isnan(x) else float(x > 0)
        if k in ("lognormal", "loguniform") and x <= 0:
            return 0.0
        if k == "lognormal":
            return float(special.ndtr(math.log(x) / self.sigma))
        if k == "normal":
            return float(special.ndtr((x - self.mean) / self.sigma))
        if k == "uniform":
            u = (x - self.low) / (self.high - self.low)
        elif k == "loguniform":
            u = (math.log(x) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        elif k == "triangular":
            a, b, c = self.low, self.high, self.mode
            if x <= a:
                return 0.0
            if x >= b:
                return 1.0
            u = ((x - a) ** 2 / ((b - a) * (c - a)) if x < c
                 else 1.0 - (b - x) ** 2 / ((b - a) * (b - c)))
        else:
            raise ValueError(f"unknown distribution {k!r}")
        return float(min(max(u, 0.0), 1.0))

    def median(self) -> float:
        """The value at the quantile 0.5."""
        return float(self.ppf(np.array([0.5]))[0])

    def describe(self) -> str:
        """A short text: ``lognormal(sigma=0.3)``, ``uniform(29, 36)``."""
        if self.kind == "lognormal":
            return f"lognormal(sigma={self.sigma:g})"
        if self.kind == "normal":
            return f"normal(mean={self.mean:g}, sd={self.sigma:g})"
        if self.kind == "triangular":
            return f"triangular({self.low:g}, {self.mode:g}, {self.high:g})"
        return f"{self.kind}({self.low:g}, {self.high:g})"
