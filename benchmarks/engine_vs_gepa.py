"""Sample efficiency of our engine (`gskill.engine.optimize`) against gepa 0.1.4's `optimize_anything`.

    .venv/bin/pip install -e '.[bench]'        # gepa==0.1.4
    .venv/bin/python benchmarks/engine_vs_gepa.py [--seeds 5] [--budget 150] [--refine-only]

Both systems run on the scripted toy problem of the unit tests (`tests/toy_problem.py`): 36 tasks
(train = the first 24, val = the last 12), each solved with probability 0.9 when the skill names the
file its fix lives in and 0.1 otherwise, drawn deterministically per (seed, task); the seed candidate
is {"skill": ""}; the same budget of metric calls; per benchmark seed s, both get search seed s and
evaluation seed s (so each seed is also a different draw of which tasks are solvable).

What is measured, from the evaluator's side only: one wrapper (`Meter`) logs every real evaluator
invocation of either system, in order. A candidate "reaches" a score at the call that completes its
scoring on all 12 validation tasks; from that log we read the calls each system needed to first hold
a candidate with validation mean >= a threshold, for two thresholds per seed: 0.8 x the attainable
maximum (every needed file named) and the "common" score, the best validation mean both ours and
gepa reached. "final" is the best validation mean reached within the budget of real calls; "used" the
real calls made (gepa checks its budget only between iterations, so it can overshoot). The issue's
target is ours/gepa <= 0.50 at the common score.

Same reflection behaviour: the reflection model of both is the `scripted/reflector` policy. Ours calls
it with our prompt. For gepa, `GepaReflector` takes gepa's prompt apart (the current text in its
``` block; per example, the side info as gepa renders it: "## Outcome", "## Failing tests", "## Files
the reference fix changed", ...), rebuilds an OUR-format refine prompt from exactly those pieces with
our own `build_prompt`, calls the same policy and returns its text in a ``` block, gepa's format.

gepa settings: its defaults (Pareto selection, minibatch 3, strict-improvement acceptance, no merge,
no refiner) plus: sequential evaluation (deterministic order, spares the CPU), a silent logger, no
run_dir (nothing written), no tracking, and perfect_score=1.0 / skip_perfect_score=True (gepa.optimize's
defaults; ours skips a perfect minibatch too). "gepa+cache" is the same run with gepa's own optional
`cache_evaluation=True`: the same trajectory (gepa's budget counter still counts cache hits), fewer
real calls. It needs `KeyedLoader` (task ids as gepa data ids): with plain lists gepa 0.1.4's cache
serves minibatch scores as validation scores (see there).

Remaining asymmetries (by design, not removable without changing either system): ours also proposes
combine and simplify edits (20% each; `--refine-only` turns that off), rejects unchanged or malformed proposals before evaluating them,
stops once validation is perfect, and never overshoots its budget; gepa only refines. The reflector's
seeded choice of which facts to add hashes the prompt it sees, so the two systems draw different
(equally distributed) choices. gepa's prompt carries no score and no task id: the reflector reads
failure from the "Outcome" field, which both systems receive.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # the scripted gateway imports litellm: no cost-map download

from gskill.engine import EngineConfig, Evaluation, RunStore, optimize  # noqa: E402
from gskill.engine.proposer import build_prompt  # noqa: E402
from harnesses.gateway.scripted import POLICIES, ScriptedRequest  # noqa: E402
from tests.toy_problem import ScriptedReflector, ToyEvaluator, make_tasks  # noqa: E402

SYSTEMS = ("ours", "gepa", "gepa+cache")


class Meter:
    """The toy evaluator behind a log of every real invocation: (skill text, task id, score)."""

    def __init__(self, eval_seed: int) -> None:
        self.toy, self.eval_seed, self.log = ToyEvaluator(), eval_seed, []
        self.identity, self.max_cost_per_call = self.toy.identity, 0.0

    def example_id(self, task: dict) -> str:
        return task["id"]

    def evaluate(self, candidate: dict, task: dict, seed: int) -> Evaluation:  # our Evaluator protocol
        result = self.toy.evaluate(candidate, task, seed)
        self.log.append((candidate.get("skill", ""), task["id"], result.score))
        return result

    def gepa_evaluator(self, candidate: dict, example: dict) -> tuple[float, dict]:  # gepa's protocol
        result = self.evaluate(candidate, example, self.eval_seed)
        return result.score, dict(result.side_info)


class GepaReflector:
    """gepa's reflection prompt -> the same pieces in our prompt format -> `scripted/reflector` -> ``` block."""

    def __init__(self, seed: int) -> None:
        from gepa.optimize_anything import optimize_anything_reflection_prompt_template as template

        self.head, self.middle, self.tail = re.split("<curr_param>|<side_info>", template)
        self.seed, self.calls = seed, 0

    def parse(self, prompt: str) -> tuple[str, list[tuple[str, Evaluation]]]:
        if not (prompt.startswith(self.head) and prompt.endswith(self.tail)):
            raise ValueError("not gepa 0.1.4's optimize_anything reflection prompt")
        current, side = prompt[len(self.head) : len(prompt) - len(self.tail)].split(self.middle, 1)
        examples = []
        for n, chunk in enumerate(re.split(r"^# Example \d+\n", side, flags=re.M)[1:], 1):
            parts = re.split(r"^## (.+)\n", chunk, flags=re.M)  # ["", key, value, key, value, ...]
            info = {key: value.strip() for key, value in zip(parts[1::2], parts[2::2])}
            examples.append((f"example-{n}", Evaluation(1.0 if info.get("Outcome") == "resolved" else 0.0, info)))
        return current, examples

    def __call__(self, prompt: str) -> str:
        self.calls += 1
        current, examples = self.parse(prompt)
        solved = sum(e.score for _, e in examples)
        ours = build_prompt("refine", component="skill", current=current, examples=examples, token_budget=2000,
                            score_line=f"{solved:g}/{len(examples)} on this minibatch")  # fmt: skip
        request = ScriptedRequest("reflector", [{"role": "user", "content": ours}], metadata={"seed": self.seed})
        reply = POLICIES["reflector"](request).content
        text = re.search(r"^````markdown\n(.*?)\n````$", reply, re.M | re.S).group(1)
        return f"```\n{text}\n```"


class _Silent:
    def log(self, message: str) -> None:
        pass


class KeyedLoader:
    """gepa's DataLoader protocol with task ids as ids. Needed with `cache_evaluation=True`: gepa 0.1.4's
    state cache is keyed (candidate, data id), and plain lists get positional ids 0..n-1 in BOTH the
    train and the val loader, so a candidate's minibatch scores are served as its scores on the
    validation tasks with the same positions (checked: 10-11 of 12 val tasks run, the rest reused)."""

    def __init__(self, tasks: list[dict]) -> None:
        self.tasks = {t["id"]: t for t in tasks}

    def all_ids(self) -> list[str]:
        return list(self.tasks)

    def fetch(self, ids) -> list[dict]:
        return [self.tasks[i] for i in ids]

    def __len__(self) -> int:
        return len(self.tasks)


def run_ours(seed: int, budget: int, train: list, val: list, refine_only: bool) -> tuple[Meter, int]:
    meter, lm = Meter(seed), ScriptedReflector(seed=seed)
    config = EngineConfig(seed=seed, eval_seed=seed, max_metric_calls=budget)
    if refine_only:
        config.operator_mix = {"refine": 1.0}
    with tempfile.TemporaryDirectory() as tmp:
        optimize({"skill": ""}, meter, train, val, reflection_lm=lm, store=RunStore(Path(tmp) / "run.sqlite"), config=config)
    return meter, len(lm.prompts)


def run_gepa(seed: int, budget: int, train: list, val: list, cache: bool) -> tuple[Meter, int]:
    from gepa.optimize_anything import EngineConfig as GepaEngine
    from gepa.optimize_anything import GEPAConfig, ReflectionConfig, TrackingConfig, optimize_anything

    meter, lm = Meter(seed), GepaReflector(seed)
    config = GEPAConfig(
        engine=GepaEngine(seed=seed, max_metric_calls=budget, parallel=False, cache_evaluation=cache, run_dir=None),
        reflection=ReflectionConfig(reflection_lm=lm, perfect_score=1.0, skip_perfect_score=True),
        tracking=TrackingConfig(logger=_Silent(), use_wandb=False, use_mlflow=False),
    )  # fmt: skip
    if cache:
        train, val = KeyedLoader(train), KeyedLoader(val)
    result = optimize_anything({"skill": ""}, evaluator=meter.gepa_evaluator, dataset=train, valset=val, config=config)
    if not cache and result.total_metric_calls != len(meter.log):  # without a cache both counts must agree
        print(f"  note: gepa counted {result.total_metric_calls} metric calls, the wrapper {len(meter.log)}")
    return meter, lm.calls


def val_curve(meter: Meter, val_ids: set[str]) -> list[tuple[int, float]]:
    """(real calls so far, validation mean) each time a candidate's validation scoring completes."""
    seen: dict[str, dict[str, float]] = {}
    points = []
    for n, (skill, task_id, score) in enumerate(meter.log, 1):
        if task_id in val_ids and task_id not in (scores := seen.setdefault(skill, {})):
            scores[task_id] = score
            if len(scores) == len(val_ids):
                points.append((n, sum(scores.values()) / len(val_ids)))
    return points


def calls_to(points: list[tuple[int, float]], threshold: float, budget: int) -> int | None:
    return next((n for n, mean in points if mean >= threshold - 1e-9 and n <= budget), None)


def fmt(value, spec: str = "d") -> str:
    return "-" if value is None else format(value, spec)


def mean_of_reached(values: list) -> str:
    reached = [v for v in values if v is not None]
    return fmt(statistics.mean(reached) if reached else None, ".1f")


def ratio(ours: list, other: list) -> str:
    pairs = [(a, b) for a, b in zip(ours, other) if a is not None and b is not None]
    if not pairs:
        return "n/a (never both reached)"
    per_seed = statistics.median(a / b for a, b in pairs)
    return f"{sum(a for a, _ in pairs) / sum(b for _, b in pairs):.2f} (sum of calls; median per seed {per_seed:.2f}; {len(pairs)} seeds)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=150, help="max metric calls per run (both systems)")
    parser.add_argument("--refine-only", action="store_true", help="ours without combine/simplify, like gepa")
    args = parser.parse_args()
    tasks = make_tasks(36)
    train, val = tasks[:24], tasks[24:]
    val_ids = {t["id"] for t in val}
    began = time.perf_counter()
    mix = "refine only" if args.refine_only else "default operator mix"
    print(f"ours: {mix}; budget {args.budget} metric calls per run; {len(train)} train / {len(val)} val tasks; seeds 0..{args.seeds - 1}")
    table: dict[str, dict[str, list]] = {s: {"final": [], "t80": [], "common": []} for s in SYSTEMS}
    for seed in range(args.seeds):
        runs = {"ours": run_ours(seed, args.budget, train, val, args.refine_only),
                "gepa": run_gepa(seed, args.budget, train, val, cache=False),
                "gepa+cache": run_gepa(seed, args.budget, train, val, cache=True)}  # fmt: skip
        curves = {name: val_curve(meter, val_ids) for name, (meter, _) in runs.items()}
        finals = {name: max(m for n, m in points if n <= args.budget) for name, points in curves.items()}
        attainable = ToyEvaluator().attainable(val, seed)
        t80, common = 0.8 * attainable, min(finals["ours"], finals["gepa"])
        print(f"\nseed {seed}: attainable {attainable:.3f}; 0.8x = {t80:.3f}; common (best ours and gepa both reached) = {common:.3f}")
        print(f"  {'system':<11} {'seed-val':>8} {'final':>6} {'calls@0.8x':>10} {'calls@common':>12} {'used':>5} {'reflections':>11}")
        for name, (meter, reflections) in runs.items():
            row = {"final": finals[name], "t80": calls_to(curves[name], t80, args.budget),
                   "common": calls_to(curves[name], common, args.budget)}  # fmt: skip
            for key, value in row.items():
                table[name][key].append(value)
            print(f"  {name:<11} {curves[name][0][1]:>8.3f} {row['final']:>6.3f} {fmt(row['t80']):>10} "
                  f"{fmt(row['common']):>12} {len(meter.log):>5} {reflections:>11}")  # fmt: skip
        quotients = [(other, table["ours"]["common"][-1], table[other]["common"][-1]) for other in SYSTEMS[1:]]
        print("  calls@common ours/" + ", ours/".join(f"{o} {fmt(a / b if a and b else None, '.2f')}" for o, a, b in quotients))
    print(f"\naggregate over {args.seeds} seeds")
    print(f"  {'system':<11} {'mean final':>10} {'reached 0.8x':>12} {'mean calls@0.8x':>15} {'mean calls@common':>17}")
    for name in SYSTEMS:
        col = table[name]
        reached = sum(x is not None for x in col["t80"])
        print(f"  {name:<11} {statistics.mean(col['final']):>10.3f} {f'{reached}/{args.seeds}':>12} "
              f"{mean_of_reached(col['t80']):>15} {mean_of_reached(col['common']):>17}")  # fmt: skip
    for other in SYSTEMS[1:]:
        print(f"  ratio ours/{other} calls@0.8x:   {ratio(table['ours']['t80'], table[other]['t80'])}")
        print(f"  ratio ours/{other} calls@common: {ratio(table['ours']['common'], table[other]['common'])}")
    pairs = [(a, b) for a, b in zip(table["ours"]["common"], table["gepa"]["common"]) if a and b]
    if pairs:
        overall = sum(a for a, _ in pairs) / sum(b for _, b in pairs)
        verdict = "MET" if overall <= 0.5 else "NOT MET"
        print(f"  target (ours <= 0.50 x gepa's calls at the common score): {verdict} ({overall:.2f})")
    print(f"  wall time {time.perf_counter() - began:.1f}s")


if __name__ == "__main__":
    main()
