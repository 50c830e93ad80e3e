"""A GEPA-style optimizer for any text artifact. Knows nothing of agents, Docker or repositories.

    from gskill.engine import EngineConfig, RunStore, optimize
    result = optimize({"skill": ""}, evaluator, train, val, reflection_lm=lm, store=RunStore(path), config=EngineConfig())

An adapter supplies the `Evaluator` (candidate × example → `Evaluation(score, side_info, cost_usd)`)
and the `ReflectionLM` (prompt → `LMReply`). See `core.py` for the loop and where it departs from gepa.
"""

from gskill.engine.core import (
    OPERATORS,
    Engine,
    EngineConfig,
    Result,
    Spend,
    describe_validation,
    optimize,
    validation_summary,
)
from gskill.engine.store import RunStore
from gskill.engine.types import (
    Candidate,
    CandidateRecord,
    Evaluation,
    EvaluationFailed,
    Evaluator,
    LMReply,
    ReflectionLM,
    candidate_hash,
)
from gskill.tokens import candidate_tokens, count_tokens

__all__ = [
    "OPERATORS",
    "Candidate",
    "CandidateRecord",
    "Engine",
    "EngineConfig",
    "Evaluation",
    "EvaluationFailed",
    "Evaluator",
    "LMReply",
    "ReflectionLM",
    "Result",
    "RunStore",
    "Spend",
    "candidate_hash",
    "candidate_tokens",
    "count_tokens",
    "describe_validation",
    "optimize",
    "validation_summary",
]
