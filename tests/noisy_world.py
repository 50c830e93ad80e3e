"""A noisy simulated skill-learning world (see benchmarks/optimizer_worlds.py for the model and why):
tasks with heterogeneous base success, skills as sets of facts, a fresh Bernoulli draw per rollout,
one reflection policy, and the exact expected score of any skill. Deterministic per seed, no containers.
The engine's tests and the optimizer benchmark share it."""

from __future__ import annotations

import hashlib
import math
import random
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from gskill.engine import EngineConfig, Evaluation, LMReply, Result, RunStore, optimize

NEVER, ALWAYS = -6.0, 6.0
KINDS = ("good", "broad", "overfit", "neutral", "harmful", "misleading", "drop")
FACT = re.compile(r"^- \[([a-z]+(?:-[\w]+)+)\]", re.M)
FEEDBACK = re.compile(r"task (t-\d+) in area (\d+): (solved|failed)")


@dataclass(frozen=True)
class WorldSpec:
    name: str
    topics: int
    never: float  # share of tasks no skill can make solvable
    always: float  # share solved without any skill
    base_mean: float  # log-odds of the others
    base_sd: float
    topic_lift: float  # one good fact's lift on its topic
    broad_lift: float
    overfit_lift: float
    harm: float  # a harmful fact's effect on its topic
    mix: dict[str, float]  # reflection's proposal kinds
    mislead: float = 0.0  # a misleading fact's effect on every task (a wrong command, a false rule)
    sizes: tuple[int, int, int] = (200, 50, 60)


WORLDS: dict[str, WorldSpec] = {
    "easy": WorldSpec(
        "easy",
        topics=4,
        never=0.10,
        always=0.10,
        base_mean=-0.5,
        base_sd=1.0,
        topic_lift=1.5,
        broad_lift=0.4,
        overfit_lift=4.0,
        harm=-0.8,
        mix={"good": 0.40, "broad": 0.10, "overfit": 0.20, "neutral": 0.15, "harmful": 0.10, "drop": 0.05},
    ),
    "hard": WorldSpec(
        "hard",
        topics=8,
        never=0.25,
        always=0.15,
        base_mean=-1.0,
        base_sd=1.5,
        topic_lift=1.0,
        broad_lift=0.3,
        overfit_lift=4.0,
        harm=-0.9,
        mix={"good": 0.20, "broad": 0.10, "overfit": 0.25, "neutral": 0.20, "harmful": 0.15, "drop": 0.10},
    ),
}
# The easy world's repository, but one proposal in five is a misleading fact that lowers every task:
# a search that keeps what its minibatch gate passes without ever validating it piles them up.
WORLDS["treacherous"] = replace(
    WORLDS["easy"],
    name="treacherous",
    mislead=-0.6,
    mix={
        "good": 0.30,
        "broad": 0.05,
        "overfit": 0.15,
        "neutral": 0.10,
        "harmful": 0.10,
        "misleading": 0.20,
        "drop": 0.10,
    },
)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def facts_of(text: str) -> list[str]:
    return list(dict.fromkeys(FACT.findall(text)))


class World:
    """One seed's tasks (train, val, test) and the exact value of any skill."""

    def __init__(self, spec: WorldSpec, seed: int) -> None:
        self.spec, self.seed = spec, seed
        rng = random.Random(f"world:{spec.name}:{seed}")
        tasks = []
        for i in range(sum(spec.sizes)):
            draw = rng.random()
            base = (
                NEVER
                if draw < spec.never
                else ALWAYS
                if draw < spec.never + spec.always
                else rng.gauss(spec.base_mean, spec.base_sd)
            )
            tasks.append({"id": f"t-{i:03d}", "topic": rng.randrange(spec.topics), "base": base})
        rng.shuffle(tasks)
        train, val, _ = spec.sizes
        self.train, self.val, self.test = tasks[:train], tasks[train : train + val], tasks[train + val :]
        self.topic_of = {task["id"]: task["topic"] for task in tasks}

    def logit(self, facts: list[str], task: dict) -> float:
        if task["base"] in (NEVER, ALWAYS):
            return task["base"]
        spec, topic = self.spec, task["topic"]
        own = sum(fact.startswith(f"topic-{topic}-") for fact in facts)
        broad = min(3, sum(fact.startswith("broad-") for fact in facts))
        harmful = sum(fact.startswith(f"harm-{topic}-") for fact in facts)
        misleading = sum(fact.startswith("mislead-") for fact in facts)
        overfit = f"only-{task['id']}" in facts
        return (
            task["base"]
            + spec.topic_lift * 2 * (1 - 0.5**own)
            + spec.broad_lift * broad
            + spec.harm * harmful
            + spec.mislead * misleading
            + spec.overfit_lift * overfit
        )

    def p(self, facts: list[str], task: dict) -> float:
        return 1 / (1 + math.exp(-self.logit(facts, task)))

    def true_score(self, text: str, split: str = "test") -> float:
        """The exact expected success rate of the skill `text` on a split's tasks."""
        facts, tasks = facts_of(text), getattr(self, split)
        return sum(self.p(facts, task) for task in tasks) / len(tasks)


def render(facts: list[str]) -> str:
    return "".join(f"- [{fact}] What the searches learned about this part of the code.\n" for fact in facts)


def reflect(world: World, seed: int, operator: str, current: str, other: str, feedback: list[tuple[str, bool]]) -> str:
    """The one reflection policy both systems call: the new skill text."""
    rng = random.Random(f"reflect:{world.seed}:{seed}:{operator}:{_digest(current)}:{_digest(other)}:{feedback}")
    facts = facts_of(current)
    if operator == "combine":
        return render(list(dict.fromkeys(facts + facts_of(other))))
    if operator == "simplify":
        kept = [fact for fact in facts if not fact.startswith("style-")]
        if kept and rng.random() < 1 / 3:
            kept.remove(rng.choice(kept))
        return render(kept)
    failed = [task for task, solved in feedback if not solved]
    kinds = list(world.spec.mix)
    kind = rng.choices(kinds, weights=[world.spec.mix[k] for k in kinds])[0] if failed else "neutral"
    if kind == "drop" and not facts:
        kind = "neutral"
    if kind == "drop":
        facts.remove(rng.choice(facts))
        return render(facts)
    task = rng.choice(failed) if failed else ""
    topic = world.topic_of.get(task, 0)
    fresh = rng.randrange(10**6)  # a new fact, not one a search dropped before
    new = {
        "good": f"topic-{topic}-{fresh}",
        "broad": f"broad-{fresh}",
        "overfit": f"only-{task}",
        "neutral": f"style-{fresh}",
        "harmful": f"harm-{topic}-{fresh}",
        "misleading": f"mislead-{fresh}",
    }[kind]
    return render(list(dict.fromkeys(facts + [new])))


@dataclass
class Meter:
    """The world's rollouts behind a log of every real call: (skill text, task id, solved)."""

    world: World
    eval_seed: int
    log: list[tuple[str, str, bool]] = field(default_factory=list)
    identity: str = "world"
    max_cost_per_call: float = 0.0

    def example_id(self, task: dict) -> str:
        return task["id"]

    def evaluate(self, candidate: dict, task: dict, seed: int) -> Evaluation:
        text = candidate.get("skill", "")
        draw = random.Random(f"roll:{self.world.seed}:{seed}:{_digest(text)}:{task['id']}").random()
        solved = draw < self.world.p(facts_of(text), task)
        self.log.append((text, task["id"], solved))
        verdict = "solved" if solved else "failed"
        return Evaluation(
            float(solved),
            {
                "Outcome": "resolved" if solved else "failed",
                "Feedback": f"task {task['id']} in area {task['topic']}: {verdict}",
            },
        )

    def gepa_evaluator(self, candidate: dict, example: dict) -> tuple[float, dict]:
        result = self.evaluate(candidate, example, self.eval_seed)
        return result.score, dict(result.side_info)


def feedback_of(text: str) -> list[tuple[str, bool]]:
    return [(task, verdict == "solved") for task, _, verdict in FEEDBACK.findall(text)]


def _block_after(prompt: str, heading: str) -> str:
    at = prompt.find(heading)
    found = re.search(r"^````markdown\n(.*?)\n````$", prompt[at:], re.M | re.S) if at >= 0 else None
    body = found.group(1) if found else ""
    return "" if body.strip() == "(empty)" else body


class OurReflector:
    identity = "world-reflector"

    def __init__(self, world: World, seed: int) -> None:
        self.world, self.seed, self.calls = world, seed, 0

    def __call__(self, prompt: str) -> LMReply:
        self.calls += 1
        operator = (re.search(r"^## Strategy: (\w+)$", prompt, re.M) or [None, "refine"])[1]
        if operator == "combine":
            current, other = _block_after(prompt, "\n## Candidate A"), _block_after(prompt, "\n## Candidate B")
        else:
            current, other = _block_after(prompt, "\n## Current "), ""
        text = reflect(self.world, self.seed, operator, current, other, feedback_of(prompt))
        return LMReply(f"````markdown\n{text or '- (nothing learned yet)'}\n````")


def search(world: World, seed: int, store: Path, **settings) -> tuple[Meter, Result]:
    """Our engine on `world` (its train and val splits, the empty seed skill), every rollout metered."""
    meter = Meter(world, seed)
    config = EngineConfig(seed=seed, eval_seed=seed, stop_at_perfect=False, **settings)
    result = optimize(
        {"skill": ""},
        meter,
        world.train,
        world.val,
        reflection_lm=OurReflector(world, seed),
        store=RunStore(store),
        config=config,
    )
    return meter, result
