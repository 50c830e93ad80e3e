"""Simulated skill-learning worlds: our engine (`gskill.engine.optimize`) against gepa 0.1.4's
`optimize_anything`, scored on what a skill is really worth, not on what the search observed.

    .venv/bin/pip install -e '.[bench]'        # gepa==0.1.4
    .venv/bin/python benchmarks/optimizer_worlds.py [--seeds 30] [--worlds easy,hard,treacherous] [--budget 600]
        [--set KEY=VALUE ...]    # another EngineConfig setting for ours, e.g. validate_every=1

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
  a misleading fact (the treacherous world only) lowers every task; a style line does nothing.
- Every rollout is a fresh Bernoulli draw, keyed by (world, eval seed, candidate text, task): the same
  candidate on the same task gives the same outcome (as the run store's cache does), two candidates
  get independent draws (no common random numbers), so an observed validation mean carries noise and
  the largest of many is biased upwards (the winner's curse).
- Reflection (one policy for both systems, `reflect`) reads the minibatch's feedback lines and proposes,
  in the world's mix: a fact for a failing task's topic (good), a broad fact, an overfit fact for a
  failing task, a style line (neutral), a harmful fact for a failing task's topic, a misleading fact,
  or the removal of an existing fact. Combine (ours only) takes the union of both parents' facts; simplify drops style lines
  and, one time in three, one other fact.
- Worlds (tests/noisy_world.py): easy (4 topics, strong facts, 40% good proposals), hard (8 topics,
  weak facts, 20% good, more never-solved tasks), treacherous (easy's repository, 20% misleading
  proposals): in the first two a search that validates little loses little, in the third it piles up
  facts that hurt every task.
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
import os
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from gskill.engine import EngineConfig  # noqa: E402
from tests.noisy_world import WORLDS, Meter, World, feedback_of, reflect, search  # noqa: E402


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
        text = reflect(self.world, self.seed, "refine", current, "", feedback_of(side))
        return f"```\n{text or '- (nothing learned yet)'}\n```"


def run_ours(world: World, seed: int, budget: int, **settings) -> tuple[Meter, str]:
    with tempfile.TemporaryDirectory() as tmp:
        meter, result = search(world, seed, Path(tmp) / "run.sqlite", max_metric_calls=budget, **settings)
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
    parser.add_argument("--worlds", default="easy,hard,treacherous")
    parser.add_argument("--budget", type=int, default=600, help="B: max metric calls (B/2 is run too)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an EngineConfig setting for ours (e.g. validation=race, parent_selection=pareto); repeatable",
    )
    args = parser.parse_args()
    settings = {}
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in EngineConfig.__dataclass_fields__ or not value:
            parser.error(f"--set {item}: not KEY=VALUE with an EngineConfig field")
        settings[key] = type(getattr(EngineConfig(), key))(value)
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
                    run_ours(world, seed, budget, **settings)
                    if system == "ours"
                    else run_gepa(world, seed, budget, seed)
                )
                rows[f"{system}_{'B' if budget == full else 'half'}"].append(world.true_score(returned))
                if budget == full:
                    curves[system].append(best_so_far(meter, world))
            meter, _ = run_gepa(world, seed, full, seed + 1000)
            curves["gepa2"].append(best_so_far(meter, world))
        shown = ", ".join(f"{k}={v}" for k, v in settings.items()) or "defaults"
        print(
            f"\n== world {name}: {args.seeds} seeds, B={full}, ours with {shown}, {time.monotonic() - began:.0f} s =="
        )
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
