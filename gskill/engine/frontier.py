"""The per-validation-example Pareto frontier (GEPA's candidate selection).

For every validation example the frontier holds the candidates with the best score on it. A parent
is drawn from the candidates on some front, after removing those another frontier candidate
dominates (at least as good everywhere, better somewhere), with probability proportional to the
number of examples on whose front it stands — so a candidate that is the only one solving a hard
example keeps being explored even when its mean is low.
"""

from __future__ import annotations

import math
import random
from typing import Sequence

from gskill.engine.types import CandidateRecord


def fronts(candidates: Sequence[CandidateRecord]) -> dict[str, set[int]]:
    """Validation example id -> indices of the candidates with the best score on it."""
    result: dict[str, set[int]] = {}
    if not candidates:
        return result
    for example in candidates[0].val_scores:
        best = max(c.val_scores.get(example, 0.0) for c in candidates)
        result[example] = {c.index for c in candidates if c.val_scores.get(example, 0.0) == best}
    return result


def dominates(a: CandidateRecord, b: CandidateRecord) -> bool:
    keys = a.val_scores.keys()
    at_least = all(a.val_scores[k] >= b.val_scores.get(k, 0.0) for k in keys)
    return at_least and any(a.val_scores[k] > b.val_scores.get(k, 0.0) for k in keys)


def frontier_weights(candidates: Sequence[CandidateRecord]) -> dict[int, int]:
    """Non-dominated frontier candidates -> the number of fronts each stands on."""
    by_index = {c.index: c for c in candidates}
    counts: dict[int, int] = {}
    for members in fronts(candidates).values():
        for index in members:
            counts[index] = counts.get(index, 0) + 1
    on_front = [by_index[i] for i in counts]
    survivors = {c.index for c in on_front if not any(dominates(o, c) for o in on_front if o.index != c.index)}
    return {index: count for index, count in sorted(counts.items()) if index in survivors}


def select_parent(candidates: Sequence[CandidateRecord], rng: random.Random, z: float = 0.0) -> CandidateRecord:
    weights = frontier_weights(candidates)
    by_index = {c.index: c for c in candidates}
    if not weights:  # every score is equal: any candidate is on every front; take the newest
        return candidates[-1]
    indices = list(weights)
    chosen = rng.choices(indices, weights=[weights[i] for i in indices], k=1)[0]
    return by_index[chosen]


def paired_lead_is_negative(gaps: Sequence[float], z: float) -> bool:
    """True when paired score differences (a - b per example) say a trails b: their sum is below
    -z times the root of their summed squares (for 0/1 scores, the sign test's normal form over the
    examples where a and b differ; the root is floored at 1 so two or three losses alone do not decide)."""
    lead = sum(gaps)
    return lead < 0 and lead <= -z * max(1.0, math.sqrt(sum(gap * gap for gap in gaps)))


def thompson_parent(candidates: Sequence[CandidateRecord], rng: random.Random, z: float = 0.0) -> CandidateRecord:
    """The candidate whose draw from its Beta posterior of the validation mean (uniform prior, scores
    as fractional successes) is highest: each is picked about as often as it may be the best."""

    def draw(candidate: CandidateRecord) -> float:
        wins = sum(candidate.val_scores.values())
        return rng.betavariate(1 + wins, 1 + len(candidate.val_scores) - wins)

    return max(candidates, key=draw)


def newest_unless_worse(candidates: Sequence[CandidateRecord], rng: random.Random, z: float) -> CandidateRecord:
    """The newest candidate, so that accepted steps build on each other (a hill climb), unless its
    validation trails the best candidate's by more than z standard errors: then the best."""
    newest, best = candidates[-1], best_candidate(candidates)
    judged = next(c for c in reversed(candidates) if c.val_scores)
    gaps = [judged.val_scores[k] - best.val_scores[k] for k in best.val_scores]
    return best if paired_lead_is_negative(gaps, z) else newest


def coverage(candidates: Sequence[CandidateRecord], index: int) -> int:
    """How many validation examples' fronts `index` stands on."""
    return sum(index in members for members in fronts(candidates).values())


def best_candidate(candidates: Sequence[CandidateRecord]) -> CandidateRecord:
    """Highest validation mean; ties go to more frontier coverage, then to fewer tokens, then older."""
    candidates = [c for c in candidates if c.val_scores] or candidates
    return max(candidates, key=lambda c: (round(c.val_mean, 9), coverage(candidates, c.index), -c.tokens, -c.index))


def complementary_partner(candidates: Sequence[CandidateRecord], parent: CandidateRecord) -> CandidateRecord | None:
    """The candidate that wins most validation examples the parent loses (for combine); None if none does."""
    best, best_wins = None, 0
    for other in candidates:
        if other.index == parent.index:
            continue
        wins = sum(other.val_scores[k] > parent.val_scores.get(k, 0.0) for k in other.val_scores)
        if wins > best_wins or (wins == best_wins and wins and best is not None and other.val_mean > best.val_mean):
            best, best_wins = other, wins
    return best


# EngineConfig.parent_selection -> how a step picks its parent: (candidates, rng, guard_z) -> candidate.
PARENT_SELECTION = {"guarded": newest_unless_worse, "pareto": select_parent, "thompson": thompson_parent}
