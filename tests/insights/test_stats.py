"""Interval and shrinkage arithmetic on known counts (no database)."""

from __future__ import annotations

import math
import random

import pytest

from leadpool.insights import stats


def test_wilson_known_counts():
    # 10 of 100: the textbook Wilson 95% interval
    lo, hi = stats.wilson(10, 100)
    assert lo == pytest.approx(0.05523, abs=1e-5)
    assert hi == pytest.approx(0.17437, abs=1e-5)
    # 0 of 20: lower bound 0, upper (z^2/n) / (1 + z^2/n)
    lo, hi = stats.wilson(0, 20)
    z2 = stats.Z95**2
    assert lo == 0.0
    assert hi == pytest.approx((z2 / 20) / (1 + z2 / 20), abs=1e-9)
    assert stats.wilson(0, 0) == (0.0, 1.0)
    lo, hi = stats.wilson(20, 20)
    assert hi == 1.0 and lo == pytest.approx(1 - (z2 / 20) / (1 + z2 / 20), abs=1e-9)


def test_beta_cdf_and_quantiles():
    # Beta(1, 1) is uniform; Beta(2, 1) has cdf x^2; Beta(1, 3) has cdf 1 - (1 - x)^3
    assert stats.credible_interval(1, 1) == pytest.approx((0.025, 0.975), abs=1e-7)
    assert stats.beta_cdf(0.3, 2, 1) == pytest.approx(0.09, abs=1e-12)
    assert stats.beta_cdf(0.2, 1, 3) == pytest.approx(1 - 0.8**3, abs=1e-12)
    assert stats.beta_quantile(0.5, 2, 1) == pytest.approx(math.sqrt(0.5), abs=1e-7)
    # large counts approach the normal approximation of the posterior
    a, b = 501.0, 9501.0
    mean, sd = a / (a + b), math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    lo, hi = stats.credible_interval(a, b)
    assert lo == pytest.approx(mean - stats.Z95 * sd, abs=2e-4)
    assert hi == pytest.approx(mean + stats.Z95 * sd, abs=2e-4)


def test_posterior_on_known_counts():
    # parent 10%, kappa 50: prior Beta(5, 45); 3 of 3 sends -> Beta(8, 45), mean 8/53
    a, b = stats.posterior(3, 3, 0.10, 50)
    assert (a, b) == pytest.approx((8.0, 45.0))
    assert a / (a + b) == pytest.approx(8 / 53)


def test_prior_strength_no_spread_pools_fully():
    # every cell exactly at its parent's rate: no detectable spread, kappa at its ceiling
    cells = [(1000, 50, 0.05) for _ in range(20)]
    assert stats.fit_prior_strength(cells) == stats.KAPPA_MAX
    assert stats.fit_prior_strength([]) == stats.KAPPA_MAX


def test_prior_strength_recovers_true_kappa():
    rng = random.Random(5)
    m, kappa = 0.1, 200.0
    cells = []
    for _ in range(400):
        p = rng.betavariate(kappa * m, kappa * (1 - m))
        n = rng.choice((50, 200, 1000))
        x = sum(1 for _ in range(n) if rng.random() < p)
        cells.append((n, x, m))
    est = stats.fit_prior_strength(cells)
    assert kappa / 2 < est < kappa * 2
