"""Small, exact statistics for resolve rates (no SciPy needed).

- `wilson`: the Wilson score interval of a binomial proportion (well behaved at 0% and 100%, unlike
  the normal approximation), as used for every resolve rate gskill reports;
- `mcnemar_exact`: the exact two-sided McNemar test on paired outcomes (same task, same run index,
  without vs with the skill): only the discordant pairs count, under H0 each is a fair coin.
"""

from __future__ import annotations

import math


def wilson(successes: int, trials: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """95% (by default) Wilson score interval for successes/trials; (0, 1) when there are no trials."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def mcnemar_exact(gained: int, lost: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pair counts (fail→pass, pass→fail)."""
    n = gained + lost
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(gained, lost) + 1)) / 2**n
    return min(1.0, 2 * tail)
