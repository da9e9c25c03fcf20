"""Interval and shrinkage arithmetic: plain functions over counts, no database.

Shrinkage is empirical Bayes with a beta-binomial model. Every cell's true rate is taken as drawn
from Beta(kappa * m, kappa * (1 - m)) where ``m`` is the parent segment's rate and ``kappa`` (the
prior strength, in pseudo-sends) is fitted from the spread of the sibling cells by the method of
moments. Why this model: rates are proportions of sends (binomial), the beta prior is conjugate (so
the posterior mean and its credible interval are exact and cheap), and fitting ``kappa`` from the
data means the amount of pooling is decided by how different segments really are, not by a
constant picked by hand: a cell of 3 sends moves only 3 / (3 + kappa) of the way from its parent.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

Z95 = 1.959963984540054
KAPPA_MIN = 1.0
KAPPA_MAX = 100_000.0  # no detectable spread between cells: pool (almost) fully


def wilson(x: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for ``x`` successes in ``n`` trials; (0, 1) when ``n`` is 0."""
    if n <= 0:
        return (0.0, 1.0)
    p = x / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def fit_prior_strength(cells: Sequence[tuple[int, int, float]]) -> float:
    """Method-of-moments prior strength ``kappa`` from ``(n, x, parent_rate)`` of sibling cells.

    Under the beta-binomial model, with rho = 1 / (kappa + 1), the standardised squared deviation
    z = (x/n - m)^2 / (m (1 - m)) has expectation 1/n + rho (1 - 1/n). Solving the n-weighted sum
    of those equations for rho gives the estimate; it is clipped to [KAPPA_MIN, KAPPA_MAX].
    """
    num = 0.0
    den = 0.0
    for n, x, m in cells:
        if n <= 0 or m <= 0.0 or m >= 1.0:
            continue
        z = (x / n - m) ** 2 / (m * (1 - m))
        num += n * (z - 1 / n)
        den += n * (1 - 1 / n)
    if den <= 0:
        return KAPPA_MAX
    rho = num / den
    if rho <= 1 / (KAPPA_MAX + 1):
        return KAPPA_MAX
    return max(KAPPA_MIN, min(KAPPA_MAX, 1 / rho - 1))


def posterior(x: int, n: int, parent_rate: float, kappa: float) -> tuple[float, float]:
    """Beta posterior parameters ``(a, b)`` of a cell shrunk toward ``parent_rate``."""
    m = min(max(parent_rate, 1e-6), 1 - 1e-6)
    return (kappa * m + x, kappa * (1 - m) + (n - x))


def _betacf(a: float, b: float, x: float) -> float:
    # continued fraction for the incomplete beta function (modified Lentz)
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1, a - 1
    c, d = 1.0, 1 - qab * x / qap
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1 + aa * d
        d = 1 / (d if abs(d) > tiny else tiny)
        c = 1 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1 + aa * d
        d = 1 / (d if abs(d) > tiny else tiny)
        c = 1 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-12:
            break
    return h


def beta_cdf(x: float, a: float, b: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    ln = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    front = math.exp(ln)
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1 - front * _betacf(b, a, 1 - x) / b


def beta_quantile(q: float, a: float, b: float) -> float:
    """The ``q`` quantile of Beta(a, b), by bisection on the cdf (60 halvings: ~1e-18)."""
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if beta_cdf(mid, a, b) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-9:
            break
    return (lo + hi) / 2


# A report asks for the same posterior many times (the whole and each parent in every view that
# holds them, cells pooled fully toward one parent, the many cells without a conversion): each
# interval is two bisections of 30 continued fractions, most of a report's time. The answer is a
# pure function of its arguments, so it is kept (about 100 bytes each).
@functools.lru_cache(maxsize=1 << 16)
def credible_interval(a: float, b: float, level: float = 0.95) -> tuple[float, float]:
    """Equal-tailed credible interval of Beta(a, b)."""
    tail = (1 - level) / 2
    return (beta_quantile(tail, a, b), beta_quantile(1 - tail, a, b))
