"""The interval bench.observability states the cost with (docs/operations.md#cost): the sign
test's, which holds the median of what the pairs were drawn from at least as often as it says."""

from __future__ import annotations

import random

from bench.observability import median_interval


def test_the_interval_is_the_sign_tests_order_statistics():
    # n = 6: P(no value under the median) = 1/64 <= 2.5%, P(at most one) = 7/64 > 2.5%.
    assert median_interval([6.0, 1.0, 5.0, 2.0, 4.0, 3.0]) == (1.0, 6.0)
    # n = 60: P(Binomial(60, 1/2) <= 21) = 1.4%, <= 22: 2.6%.
    assert median_interval([float(value) for value in range(60)]) == (21.0, 38.0)


def test_too_few_pairs_have_no_interval():
    assert median_interval([1.0, 2.0, 3.0, 4.0, 5.0]) is None


def test_the_interval_holds_the_median_at_least_95_times_in_100():
    draw = random.Random(7)  # any skewed distribution: the sign test assumes none
    trials = 2000
    held = 0
    for _ in range(trials):
        lower, upper = median_interval([draw.expovariate(1.0) for _ in range(30)])  # type: ignore[misc]
        held += lower <= 0.6931471805599453 <= upper  # ln 2: the exponential's median
    assert held / trials >= 0.95
