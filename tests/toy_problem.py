"""A scripted skill-learning problem with no containers: the engine's unit tests and benchmarks use it.

Each task needs one fact (the source file its fix lives in). A rollout resolves with probability
`competent` when the skill states that file and `base` otherwise, drawn deterministically per
(seed, task) — the same rule as `scripted/needs-skill` — and reports the side information the real
harness adapter reports (`gskill.learn.side_info`: failing tests, files the reference fix changed).
The reflection model is the `scripted/reflector` policy, called directly.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

from gskill.engine import Evaluation, LMReply

MODULES = ("pricing", "stock", "units", "labels", "orders", "report", "search", "export")


def make_tasks(count: int, modules: tuple[str, ...] = MODULES) -> list[dict]:
    return [
        {
            "id": f"task-{i:03d}",
            "module": modules[i % len(modules)],
            "needs": f"src/shop/{modules[i % len(modules)]}.py",
        }
        for i in range(count)
    ]


@dataclass
class ToyEvaluator:
    competent: float = 0.9
    base: float = 0.1
    cost_per_call: float = 0.0
    identity: str = "toy"
    calls: list[tuple[str, str]] = field(default_factory=list)  # (candidate text, task id) per real call
    fail_after: int | None = None  # raise a crash (BaseException) once this many calls were made
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def max_cost_per_call(self) -> float:
        return self.cost_per_call

    def example_id(self, task: dict) -> str:
        return task["id"]

    def evaluate(self, candidate: dict, task: dict, seed: int) -> Evaluation:
        with self._lock:
            if self.fail_after is not None and len(self.calls) >= self.fail_after:
                raise Crash("simulated kill")
            self.calls.append((candidate.get("skill", ""), task["id"]))
        knows = task["needs"] in candidate.get("skill", "")
        draw = random.Random(f"{seed}:{task['id']}").random()
        solved = draw < (self.competent if knows else self.base)
        info = {
            "Outcome": "resolved" if solved else "f2p_failed",
            "Task": f"Something is wrong in the {task['module']} code.",
        }
        if not solved:
            info["Failing tests"] = f"tests/test_{task['module']}.py::test_{task['id'].replace('-', '_')}"
            info["Files the reference fix changed"] = task["needs"]
        return Evaluation(1.0 if solved else 0.0, info, self.cost_per_call)

    def attainable(self, tasks: list[dict], seed: int = 0) -> float:
        """The best mean any skill can reach: every needed file stated."""
        oracle = {"skill": " ".join(task["needs"] for task in tasks)}
        probe = ToyEvaluator(self.competent, self.base)
        return sum(probe.evaluate(oracle, t, seed).score for t in tasks) / len(tasks)


class Crash(BaseException):
    """Stands in for kill -9: not an Exception, so nothing on the way catches it."""


@dataclass
class ScriptedReflector:
    """`scripted/reflector` without litellm; optional canned replies first (to test proposal checks)."""

    seed: int = 0
    canned: list[str] = field(default_factory=list)
    cost: float = 0.0
    identity: str = "scripted/reflector"
    prompts: list[str] = field(default_factory=list)
    bound: float | None = None  # what `max_cost_usd` says a call may cost (None: no bound offered)

    def max_cost_usd(self, prompt: str) -> float | None:
        return self.bound

    def __call__(self, prompt: str) -> LMReply:
        from harnesses.gateway.scripted import POLICIES, ScriptedRequest

        self.prompts.append(prompt)
        if self.canned:
            return LMReply(self.canned.pop(0), self.cost)
        reply = POLICIES["reflector"](
            ScriptedRequest("reflector", [{"role": "user", "content": prompt}], metadata={"seed": self.seed})
        )
        return LMReply(reply.content, self.cost)
