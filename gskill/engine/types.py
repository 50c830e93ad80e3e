"""The engine's vocabulary: candidates, evaluations, the evaluator and reflection-model protocols.

The engine optimizes any text artifact. It knows nothing of agents, Docker or repositories: an
adapter supplies an `Evaluator` (candidate × example → score + side information for reflection)
and a `ReflectionLM` (prompt → text). Everything here is plain data.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

# component name -> text (e.g. {"skill": "..."}; gskill learn's components are its surfaces, gskill.surfaces).
# Contract (as gepa's GEPAAdapter): the evaluator receives the whole candidate and reads every component it
# knows; reflection edits ONE component per step (EngineConfig.component_choice), told what it is
# (EngineConfig.component_descriptions), within its own budget (EngineConfig.budget_of); frozen components
# are copied unchanged into every child.
Candidate = dict[str, str]


def candidate_hash(candidate: Candidate) -> str:
    return hashlib.sha256(json.dumps(candidate, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class Evaluation:
    """One metric call: a candidate run on one example.

    `score` is in [0, 1]. `side_info` is what reflection reads (free-form, JSON-serialisable): the
    agent's trace, test output, why it failed. `cost_usd` is what the call spent (0 if free).
    """

    score: float
    side_info: dict[str, Any] = field(default_factory=dict)
    cost_usd: float = 0.0


class EvaluationFailed(RuntimeError):
    """The evaluator could not produce a score for reasons that are not the candidate's fault
    (infrastructure). The engine stops; a resumed run retries that call."""


class Evaluator(Protocol):
    # Identifies what evaluates (agent, model, settings): part of every cache key, so a cached score is
    # never reused for a different agent or model.
    identity: str
    # An upper bound on one call's cost in dollars (e.g. the per-rollout cost cap); the budget reserves
    # it before each call so a dollar budget is never overshot. 0 = calls are free.
    max_cost_per_call: float

    def example_id(self, example: Any) -> str: ...

    def evaluate(self, candidate: Candidate, example: Any, seed: int) -> Evaluation: ...


@dataclass
class LMReply:
    text: str
    cost_usd: float = 0.0


class ReflectionLM(Protocol):
    """May also offer `max_cost_usd(prompt) -> float | None`, an upper bound on one call's price: a
    dollar budget is then checked against it before each call (else `max_cost_per_reflection`)."""

    identity: str  # the model's name: part of the reply cache key

    def __call__(self, prompt: str) -> LMReply: ...


@dataclass
class CandidateRecord:
    """A candidate that passed its minibatch gate (or the seed) and was scored on the validation set."""

    index: int
    components: Candidate
    parents: list[int]
    operator: str  # seed | refine | combine | simplify
    iteration: int
    val_scores: dict[str, float]  # val example id -> score
    tokens: int
    minibatch: dict[str, Any] = field(default_factory=dict)  # ids, parent scores, child scores
    # How it was validated: {"mode": "full"}, or {"mode": "raced", "of": V} when it ran a race against
    # its parent to the end (a child raced out is no candidate: its iteration records where it stopped).
    validation: dict[str, Any] = field(default_factory=lambda: {"mode": "full"})

    @property
    def hash(self) -> str:
        return candidate_hash(self.components)

    @property
    def val_mean(self) -> float:
        return sum(self.val_scores.values()) / len(self.val_scores) if self.val_scores else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "hash": self.hash,
            "parents": self.parents,
            "operator": self.operator,
            "iteration": self.iteration,
            "val_mean": round(self.val_mean, 4),
            "val_scores": self.val_scores,
            "tokens": self.tokens,
            "minibatch": self.minibatch,
            "validation": self.validation,
            "components": self.components,
        }


Examples = Sequence[Any]
