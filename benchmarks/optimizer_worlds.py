"""Simulated skill-learning worlds: our engine (`gskill.engine.optimize`) against gepa 0.1.4's
`optimize_anything`, scored on what a skill is really worth, not on what the search observed.

    .venv/bin/pip install -e '.[bench]'        # gepa==0.1.4
    .venv/bin/python benchmarks/optimizer_worlds.py [--seeds 30] [--worlds easy,hard] [--budget 600]

Why not the toy problem (`engine_vs_gepa.py`): there each outcome is drawn once per (seed, task) and
reused for every candidate, the reflector only ever adds the fix's file, and train and validation share
everything, so no decision of a search can be wrong. Here (deterministic per seed, no containers):

- A repository's 310 tasks (train 200 / val 50 / test 60) fall into topics (areas of the code). A task
  has a base log-odds of success: some are never solved (-6), some always (+6), the rest drawn from a
  normal distribution.
- A skill is a set of facts, one per line (`- [topic-3-1] ...`). A topic fact lifts the log-odds of
  its topic's tasks (two facts of a topic lift 1.5x one, more saturate at 2x); a broad fact lifts every
  task a little (three at most count); an overfit fact (`only-t-017`) lifts one task a lot and nothing
  else (it passes a 3-task minibatch gate when that task is in it); a harmful fact lowers its topic;
  a style line does nothing.
- Every rollout is a fresh Bernoulli draw, keyed by (world, eval seed, candidate text, task): the same
  candidate on the same task gives the same outcome (as the run store's cache does), two candidates
  get independent draws (no common random numbers), so an observed validation mean carries noise and
  the largest of many is biased upwards (the winner's curse).
- Reflection (one policy for both systems, `reflect`) reads the minibatch's feedback lines and proposes,
  in the world's mix: a fact for a failing task's topic (good), a broad fact, an overfit fact for a
  failing task, a style line (neutral), a harmful fact for a failing task's topic, or the removal of an
  existing fact. Combine (ours only) takes the union of both parents' facts; simplify drops style lines
  and, one time in three, one other fact.
- The TRUE score of a skill is its exact expected success rate on the 60 test tasks; it is the primary
  metric. Observed validation scores are only what the searches choose by.

Both systems get the same world, evaluation seed, reflection policy and hard call cap; one wrapper
(`Meter`) logs every real rollout. What a system returns at budget B is its own choice (ours:
`result.best`; gepa: `best_candidate`). Printed per world, over seeds: the mean true test score of the
returned skill at B and B/2 for ours and gepa, with bootstrap 95% intervals of the paired differences
(ours at B/2 - gepa at B: the issue's non-inferiority test, bar -0.02; ours at B - gepa at B, bar +0.04);
and the per-seed ratio of real calls to first hold (as the system's current best by validation mean) a
skill whose true score reaches the common score (the lower of the two runs' best), with a control:
gepa against gepa with another search seed, the noise floor of such ratios.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import random
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from gskill.engine import EngineConfig, Evaluation, LMReply, RunStore, optimize  # noqa: E402

NEVER, ALWAYS = -6.0, 6.0
KINDS = ("good", "broad", "overfit", "neutral", "harmful", "drop")
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
    harm: float
    mix: dict[str, float]  # reflection's proposal kinds
    sizes: tuple[int, int, int] = (200, 50, 60)


WORLDS = {
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
        overfit = f"only-{task['id']}" in facts
        return (
            task["base"]
            + spec.topic_lift * 2 * (1 - 0.5**own)
            + spec.broad_lift * broad
            + spec.harm * harmful
            + spec.overfit_lift * overfit
        )

    def p(self, facts: list[str], task: dict) -> float:
        return 1 / (1 + math.exp(-self.logit(facts, task)))

    def true_score(self, text: str) -> float:
        facts = facts_of(text)
        return sum(self.p(facts, task) for task in self.test) / len(self.test)


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


def _feedback(text: str) -> list[tuple[str, bool]]:
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
        text = reflect(self.world, self.seed, operator, current, other, _feedback(prompt))
        return LMReply(f"````markdown\n{text or '- (nothing learned yet)'}\n````")


class GepaReflector:
    """gepa's reflection prompt: the current text between its template's pieces, feedback lines in the rest."""

    def __init__(self, world: World, seed: int) -> None:
        from gepa.optimize_anything import optimize_anything_reflection_prompt_template as template

        self.head, self.middle, self.tail = re.split("<curr_param>|<side_info>", template)
        self.world, self.seed, self.calls = world, seed, 0

    def __call__(self, prompt: str) -> str:
        self.calls += 1
        if not (prompt.startswith(self.head) and prompt.endswith(self.tail)):
            raise ValueError("not gepa 0.1.4's optimize_anything reflection prompt")
        current, side = prompt[len(self.head) : len(prompt) - len(self.tail)].split(self.middle, 1)
        text = reflect(self.world, self.seed, "refine", current, "", _feedback(side))
        return f"```\n{text or '- (nothing learned yet)'}\n```"


def run_ours(world: World, seed: int, budget: int) -> tuple[Meter, str]:
    meter = Meter(world, seed)
    config = EngineConfig(seed=seed, eval_seed=seed, max_metric_calls=budget, stop_at_perfect=False)
    with tempfile.TemporaryDirectory() as tmp:
        result = optimize(
            {"skill": ""},
            meter,
            world.train,
            world.val,
            reflection_lm=OurReflector(world, seed),
            store=RunStore(Path(tmp) / "run.sqlite"),
            config=config,
        )
    return meter, result.best.components["skill"]


def run_gepa(world: World, seed: int, budget: int, search_seed: int) -> tuple[Meter, str]:
    from gepa.optimize_anything import EngineConfig as GepaEngine
    from gepa.optimize_anything import GEPAConfig, ReflectionConfig, TrackingConfig, optimize_anything

    class Silent:
        def log(self, message: str) -> None:
            pass

    meter = Meter(world, seed)
    config = GEPAConfig(
        engine=GepaEngine(seed=search_seed, max_metric_calls=budget, parallel=False, run_dir=None),
        reflection=ReflectionConfig(
            reflection_lm=GepaReflector(world, seed), perfect_score=1.0, skip_perfect_score=True
        ),
        tracking=TrackingConfig(logger=Silent(), use_wandb=False, use_mlflow=False),
    )
    result = optimize_anything(
        {"skill": ""}, evaluator=meter.gepa_evaluator, dataset=world.train, valset=world.val, config=config
    )
    return meter, result.best_candidate["skill"]


def best_so_far(meter: Meter, world: World) -> list[tuple[int, float]]:
    """(real calls so far, true score of the skill with the best observed validation mean) each time a
    skill's validation completes and changes which skill that is."""
    val_ids = {task["id"] for task in world.val}
    seen: dict[str, dict[str, bool]] = {}
    best_text, best_mean = "", -1.0
    points = [(0, world.true_score(""))]
    for n, (text, task_id, solved) in enumerate(meter.log, 1):
        scores = seen.setdefault(text, {})
        if task_id not in val_ids or task_id in scores:
            continue
        scores[task_id] = solved
        if len(scores) == len(val_ids) and (mean := sum(scores.values()) / len(val_ids)) > best_mean:
            best_text, best_mean = text, mean
            points.append((n, world.true_score(best_text)))
    return points


def calls_to(points: list[tuple[int, float]], score: float) -> int | None:
    return next((n for n, value in points if value >= score - 1e-12), None)


def bootstrap(diffs: list[float], draws: int = 10000) -> tuple[float, float, float]:
    rng = random.Random(0)
    means = sorted(statistics.fmean(rng.choices(diffs, k=len(diffs))) for _ in range(draws))
    return statistics.fmean(diffs), means[int(0.025 * draws)], means[int(0.975 * draws) - 1]


def spread(values: list[float]) -> str:
    if not values:
        return "n/a"
    quartiles = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return (
        f"median {statistics.median(values):.2f}, IQR {quartiles[0]:.2f}-{quartiles[2]:.2f}, "
        f"range {min(values):.2f}-{max(values):.2f} ({len(values)} seeds)"
    )


def ratios(first: list[list[tuple[int, float]]], second: list[list[tuple[int, float]]]) -> list[float]:
    found = []
    for a, b in zip(first, second):
        common = min(max(v for _, v in a), max(v for _, v in b))
        reach_a, reach_b = calls_to(a, common), calls_to(b, common)
        if reach_a and reach_b:
            found.append(reach_a / reach_b)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--worlds", default="easy,hard")
    parser.add_argument("--budget", type=int, default=600, help="B: max metric calls (B/2 is run too)")
    args = parser.parse_args()
    unknown = set(args.worlds.split(",")) - set(WORLDS)
    if unknown:
        parser.error(f"unknown world(s) {sorted(unknown)}; known: {', '.join(WORLDS)}")
    try:
        import gepa  # noqa: F401
    except ImportError:
        sys.exit("gepa is not installed: .venv/bin/pip install -e '.[bench]'")
    full, half = args.budget, args.budget // 2
    for name in args.worlds.split(","):
        began = time.monotonic()
        rows: dict[str, list[float]] = {key: [] for key in ("ours_B", "ours_half", "gepa_B", "gepa_half", "seed_skill")}
        curves: dict[str, list] = {"ours": [], "gepa": [], "gepa2": []}
        for seed in range(args.seeds):
            world = World(WORLDS[name], seed)
            rows["seed_skill"].append(world.true_score(""))
            for system, budget in (("ours", full), ("ours", half), ("gepa", full), ("gepa", half)):
                meter, returned = (
                    run_ours(world, seed, budget) if system == "ours" else run_gepa(world, seed, budget, seed)
                )
                rows[f"{system}_{'B' if budget == full else 'half'}"].append(world.true_score(returned))
                if budget == full:
                    curves[system].append(best_so_far(meter, world))
            meter, _ = run_gepa(world, seed, full, seed + 1000)
            curves["gepa2"].append(best_so_far(meter, world))
        print(f"\n== world {name}: {args.seeds} seeds, B={full}, {time.monotonic() - began:.0f} s ==")
        print(f"true test score of the empty skill: {statistics.fmean(rows['seed_skill']):.3f}")
        for key, label in (
            ("ours_B", f"ours  B={full}"),
            ("ours_half", f"ours  B={half}"),
            ("gepa_B", f"gepa  B={full}"),
            ("gepa_half", f"gepa  B={half}"),
        ):
            print(f"{label:>14}: mean true test score {statistics.fmean(rows[key]):.3f}")
        for a, b, label, bar in (
            ("ours_half", "gepa_B", f"ours@{half} - gepa@{full}", ">= -0.02 (non-inferior)"),
            ("ours_B", "gepa_B", f"ours@{full} - gepa@{full}", ">= +0.04"),
            ("ours_half", "gepa_half", f"ours@{half} - gepa@{half}", ""),
        ):
            mean, low, high = bootstrap([x - y for x, y in zip(rows[a], rows[b])])
            print(f"{label:>20}: {mean:+.3f} [95% CI {low:+.3f}, {high:+.3f}] {bar}")
        print(f"calls to the common true score, ours/gepa: {spread(ratios(curves['ours'], curves['gepa']))}")
        print(f"control, gepa/gepa (another search seed): {spread(ratios(curves['gepa2'], curves['gepa']))}")


if __name__ == "__main__":
    main()
