"""Sample efficiency of our engine (`gskill.engine.optimize`) against gepa 0.1.4's `optimize_anything`.

    .venv/bin/pip install -e '.[bench]'        # gepa==0.1.4
    .venv/bin/python benchmarks/engine_vs_gepa.py [--seeds 5] [--budget 150] [--refine-only] [--noise 0.3]

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

Noisy reflection (`--noise P`, default 0 = the clean scenario above, unchanged): the reflection model
of all three runs replaces a fraction P of its replies with one of three bad replies that real
reflection models produce (the field failure this engine was built against: "a truncated reflection
output (no closing fence, or a `<think>` monologue) was adopted as a candidate"; and models often hand
the text back unchanged):
  truncated  the good reply cut at a uniform random point of its text: the opening fence (and anything
             before it) kept, the rest of the text and the closing fence gone (hit max_tokens);
  think      a `<think>` monologue about the evaluation data, no closing tag, no answer, no fence
             (the same fixed text for both systems; it names no file, so in the toy it is worth as
             much as an empty skill);
  unchanged  the current text (the one the prompt shows) returned in a proper fenced block.
Whether call number n (counted per run, 1, 2, ...) is bad, which kind, and where a truncation cuts (as
a fraction of the text) are drawn with random.Random from (benchmark seed, n) alone, so every system
sees the same sequence of good and bad outcomes by call index, and P only decides which draws count
as bad. Each reply keeps its system's format: ours ````markdown blocks, gepa ``` blocks (truncated =
no closing fence in either; the monologue is the same string in both). This is fair in that the model
is equally unreliable for both; what differs is only what each system does with a bad reply: ours
rejects all three in `parse_proposal` before any evaluation (the reflection call is the only cost);
gepa 0.1.4 extracts text from anything (an unclosed ``` block yields the text after the opening fence,
a reply with no fence yields the whole reply) and evaluates it on a minibatch, adopting it when it
scores higher there. Asymmetries of the noise itself: ours also sends combine/simplify prompts, and its
run store caches replies per prompt, so a repeated prompt replays its (good or bad) reply without a new
draw, where gepa would ask again; the toy scores a skill only by the file paths it contains, so a
truncated text that still holds every path costs gepa nothing beyond the evaluations (a half sentence
at its end does no harm here, unlike with a real agent), which understates the damage. The noisy output
adds, per system: bad replies, the real metric calls spent on them (those made in the rest of the
iteration the bad reply came in: gepa's minibatch check, and its validation run if adopted), and how
many candidates of the final pool are a bad reply's text or descend from one ("tainted"). Our
"rejected before evaluation" counts include the scripted reflector's own unchanged replies (no new
fact to add), which occur in the clean scenario too. gepa's logger messages that report a failure,
and an exception out of gepa, are recorded and printed instead of being hidden.
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
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault(
    "LITELLM_LOCAL_MODEL_COST_MAP", "True"
)  # the scripted gateway imports litellm: no cost-map download

from gskill.engine import EngineConfig, Evaluation, LMReply, RunStore, optimize  # noqa: E402
from gskill.engine.proposer import build_prompt  # noqa: E402
from harnesses.gateway.scripted import POLICIES, ScriptedRequest, _block_after  # noqa: E402
from tests.toy_problem import ScriptedReflector, ToyEvaluator, make_tasks  # noqa: E402

SYSTEMS = ("ours", "gepa", "gepa+cache")
BAD_KINDS = ("truncated", "think", "unchanged")
THINK = (
    "<think>\nOkay, let me read the evaluation data first. Several tasks failed; their failing tests should point "
    "at the code the agent did not find, so the new version has to say where that code lives. Before I write "
    "anything, let me go through the current text line by line and check which parts the solved tasks relied on, "
    "because those must stay. The first example"
)


class Meter:
    """The toy evaluator behind a log of every real invocation: (skill text, task id, score)."""

    def __init__(self, eval_seed: int) -> None:
        self.toy, self.eval_seed, self.log = ToyEvaluator(), eval_seed, []
        self.identity, self.max_cost_per_call = self.toy.identity, 0.0
        self.blame: str | None = None  # the kind of bad reflection reply the current iteration evaluates, if any
        self.blamed: Counter = Counter()  # real calls spent per bad kind

    def example_id(self, task: dict) -> str:
        return task["id"]

    def evaluate(self, candidate: dict, task: dict, seed: int) -> Evaluation:  # our Evaluator protocol
        result = self.toy.evaluate(candidate, task, seed)
        self.log.append((candidate.get("skill", ""), task["id"], result.score))
        if self.blame:
            self.blamed[self.blame] += 1
        return result

    def gepa_evaluator(self, candidate: dict, example: dict) -> tuple[float, dict]:  # gepa's protocol
        result = self.evaluate(candidate, example, self.eval_seed)
        return result.score, dict(result.side_info)

    def new_iteration(self, *_) -> None:  # gepa's on_iteration_start; our on_event("iteration", ...) ends one
        self.blame = None


class Noise:
    """The bad-reply draw shared by both systems' reflectors: call n of a run is bad, of which kind and cut where,
    by random.Random((benchmark seed, n)) alone. Records what a bad reply would become as a candidate text."""

    def __init__(self, seed: int, rate: float, meter: Meter) -> None:
        self.seed, self.rate, self.meter, self.calls = seed, rate, meter, 0
        self.kinds: Counter = Counter()
        self.origin: dict[str, str] = {}  # candidate text a bad reply yields (as gepa extracts it) -> kind

    def __call__(self, head: str, body: str, tail: str, current: str, extract) -> str:
        """head + body + tail is the good reply (head ends with the opening fence line, tail starts at the closing one)."""
        self.calls += 1
        rng = random.Random(f"noise:{self.seed}:{self.calls}")
        draw, kind, cut = rng.random(), rng.choice(BAD_KINDS), rng.random()
        if draw >= self.rate:
            self.meter.blame = None
            return head + body + tail
        reply = {"truncated": head + body[: int(cut * len(body))], "think": THINK, "unchanged": head + current + tail}[
            kind
        ]
        self.kinds[kind] += 1
        self.meter.blame = kind
        text = extract(reply)  # "unchanged" yields the parent's own text: nothing new can enter a pool
        if kind != "unchanged" and text.strip() not in (body.strip(), current.strip()):  # a cut that loses nothing,
            self.origin.setdefault(text, kind)  # or one right after the parent's text, adds no candidate of its own
        return reply


def gepa_extract(reply: str) -> str:
    from gepa.strategies.instruction_proposal import InstructionProposalSignature

    return InstructionProposalSignature.output_extractor(reply.strip())["new_instruction"]  # as gepa 0.1.4 does


class NoisyReflector:
    """Ours: `ScriptedReflector` (our identity, so our prompts) with `Noise` applied to its ````markdown replies."""

    def __init__(self, seed: int, noise: Noise) -> None:
        self.inner, self.noise = ScriptedReflector(seed=seed), noise
        self.identity, self.prompts = self.inner.identity, self.inner.prompts

    def __call__(self, prompt: str) -> LMReply:
        reply = self.inner(prompt)
        found = re.search(r"^````markdown\n(.*?)\n````$", reply.text, re.M | re.S)
        heading = "\n## Candidate A" if re.search(r"^## Strategy: combine$", prompt, re.M) else "\n## Current "
        text = self.noise(
            reply.text[: found.start(1)],
            found.group(1),
            reply.text[found.end(1) :],
            _block_after(prompt, heading),
            gepa_extract,
        )
        return LMReply(text, reply.cost_usd)


class GepaReflector:
    """gepa's reflection prompt -> the same pieces in our prompt format -> `scripted/reflector` -> ``` block."""

    def __init__(self, seed: int, noise: Noise) -> None:
        from gepa.optimize_anything import optimize_anything_reflection_prompt_template as template

        self.head, self.middle, self.tail = re.split("<curr_param>|<side_info>", template)
        self.seed, self.calls, self.noise = seed, 0, noise

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
        ours = build_prompt(
            "refine",
            component="skill",
            current=current,
            examples=examples,
            token_budget=2000,
            score_line=f"{solved:g}/{len(examples)} on this minibatch",
        )
        request = ScriptedRequest("reflector", [{"role": "user", "content": ours}], metadata={"seed": self.seed})
        reply = POLICIES["reflector"](request).content
        text = re.search(r"^````markdown\n(.*?)\n````$", reply, re.M | re.S).group(1)
        return self.noise("```\n", text, "\n```", current, gepa_extract)  # clean: f"```\n{text}\n```"


class _Silent:
    """gepa's logger: prints nothing, keeps the messages that report a failure (gepa catches and logs them)."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def log(self, message: str) -> None:
        if "Proposed new text" not in message and re.search(r"exception|failed|error|traceback", message, re.I):
            self.failures.append(message)


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


def pool_stats(texts: list[str], parents: list[list], noise: Noise) -> dict:
    """Final-pool candidates that are a bad reply's text (by kind), or descend from one (or hold a `<think>`)."""
    bad = [noise.origin.get(t) for t in texts]
    tainted = [False] * len(texts)
    for i in range(len(texts)):  # parents come before children in both pools
        tainted[i] = bool(bad[i]) or "<think>" in texts[i] or any(p is not None and tainted[p] for p in parents[i])
    return {
        "size": len(texts),
        "direct": Counter(k for k in bad if k),
        "tainted": sum(tainted),
        "tainted_flags": tainted,
    }


def run_ours(
    seed: int, budget: int, train: list, val: list, refine_only: bool, noise: float = 0.0
) -> tuple[Meter, int, dict]:
    meter = Meter(seed)
    lm = NoisyReflector(seed, Noise(seed, noise, meter)) if noise else ScriptedReflector(seed=seed)
    config = EngineConfig(seed=seed, eval_seed=seed, max_metric_calls=budget)
    if refine_only:
        config.operator_mix = {"refine": 1.0}
    on_event = (lambda kind, data: meter.new_iteration() if kind == "iteration" else None) if noise else None
    with tempfile.TemporaryDirectory() as tmp:
        result = optimize(
            {"skill": ""},
            meter,
            train,
            val,
            reflection_lm=lm,
            store=RunStore(Path(tmp) / "run.sqlite"),
            config=config,
            on_event=on_event,
        )
    stats: dict = {}
    if noise:
        texts = [c.components["skill"] for c in result.candidates]
        stats = {
            "noise": lm.noise,
            "pool": pool_stats(texts, [c.parents for c in result.candidates], lm.noise),
            "best_tainted": None,
            "failures": [],
            "crash": None,
        }
        stats["best_tainted"] = stats["pool"]["tainted_flags"][result.best.index]
        rejected = Counter(
            e.get("reason", "").split(" (")[0] for e in result.iterations if e.get("outcome") == "rejected"
        )
        stats["rejected"] = {k: v for k, v in rejected.items() if not k.startswith("minibatch")}
    return meter, len(lm.prompts), stats


def run_gepa(
    seed: int, budget: int, train: list, val: list, cache: bool, noise: float = 0.0
) -> tuple[Meter, int, dict]:
    from gepa.optimize_anything import EngineConfig as GepaEngine
    from gepa.optimize_anything import GEPAConfig, ReflectionConfig, TrackingConfig, optimize_anything

    meter, logger = Meter(seed), _Silent()
    lm = GepaReflector(seed, Noise(seed, noise, meter))

    class IterationStart:
        on_iteration_start = meter.new_iteration

    config = GEPAConfig(
        engine=GepaEngine(seed=seed, max_metric_calls=budget, parallel=False, cache_evaluation=cache, run_dir=None),
        reflection=ReflectionConfig(reflection_lm=lm, perfect_score=1.0, skip_perfect_score=True),
        tracking=TrackingConfig(logger=logger, use_wandb=False, use_mlflow=False),
        callbacks=[IterationStart()] if noise else None,
    )
    if cache:
        train, val = KeyedLoader(train), KeyedLoader(val)
    stats: dict = {"noise": lm.noise, "pool": None, "best_tainted": None, "failures": logger.failures, "crash": None}
    try:
        result = optimize_anything(
            {"skill": ""}, evaluator=meter.gepa_evaluator, dataset=train, valset=val, config=config
        )
    except Exception as error:  # recorded and reported; the wrapper's log up to the crash still counts
        if not noise:
            raise
        stats["crash"] = f"{type(error).__name__}: {error}"
        return meter, lm.calls, stats
    if not cache and result.total_metric_calls != len(meter.log):  # without a cache both counts must agree
        print(f"  note: gepa counted {result.total_metric_calls} metric calls, the wrapper {len(meter.log)}")
    if logger.failures:
        print(
            f"  note: gepa logged {len(logger.failures)} failure message(s); first: {logger.failures[0].splitlines()[0][:160]}"
        )
    if noise:
        stats["pool"] = pool_stats([c["skill"] for c in result.candidates], result.parents, lm.noise)
        stats["best_tainted"] = stats["pool"]["tainted_flags"][result.best_idx]
    return meter, lm.calls, stats


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
    parser.add_argument(
        "--noise",
        type=float,
        default=0.0,
        metavar="P",
        help="share of reflection replies made bad (truncated / <think> / unchanged), both systems",
    )
    args = parser.parse_args()
    if not 0.0 <= args.noise <= 1.0:
        parser.error("--noise must be between 0 and 1")
    try:
        import gepa  # noqa: F401 - only to say what to install, before any run
    except ModuleNotFoundError:
        sys.exit("this benchmark runs upstream gepa too: pip install -e .[bench]")
    tasks = make_tasks(36)
    train, val = tasks[:24], tasks[24:]
    val_ids = {t["id"] for t in val}
    began = time.perf_counter()
    mix = "refine only" if args.refine_only else "default operator mix"
    print(
        f"ours: {mix}; budget {args.budget} metric calls per run; {len(train)} train / {len(val)} val tasks; seeds 0..{args.seeds - 1}"
    )
    if args.noise:
        print(
            f"noisy reflection: P = {args.noise:g} of the replies bad (truncated / <think> / unchanged), same draw per call index for all"
        )
    table: dict[str, dict[str, list]] = {s: {"final": [], "t80": [], "common": []} for s in SYSTEMS}
    noisy: dict[str, list[tuple[Meter, int, dict]]] = {s: [] for s in SYSTEMS}
    for seed in range(args.seeds):
        runs = {
            "ours": run_ours(seed, args.budget, train, val, args.refine_only, args.noise),
            "gepa": run_gepa(seed, args.budget, train, val, cache=False, noise=args.noise),
            "gepa+cache": run_gepa(seed, args.budget, train, val, cache=True, noise=args.noise),
        }
        curves = {name: val_curve(meter, val_ids) for name, (meter, *_) in runs.items()}
        finals = {name: max(m for n, m in points if n <= args.budget) for name, points in curves.items()}
        attainable = ToyEvaluator().attainable(val, seed)
        t80, common = 0.8 * attainable, min(finals["ours"], finals["gepa"])
        print(
            f"\nseed {seed}: attainable {attainable:.3f}; 0.8x = {t80:.3f}; common (best ours and gepa both reached) = {common:.3f}"
        )
        print(
            f"  {'system':<11} {'seed-val':>8} {'final':>6} {'calls@0.8x':>10} {'calls@common':>12} {'used':>5} {'reflections':>11}"
        )
        for name, (meter, reflections, _) in runs.items():
            row = {
                "final": finals[name],
                "t80": calls_to(curves[name], t80, args.budget),
                "common": calls_to(curves[name], common, args.budget),
            }
            for key, value in row.items():
                table[name][key].append(value)
            print(
                f"  {name:<11} {curves[name][0][1]:>8.3f} {row['final']:>6.3f} {fmt(row['t80']):>10} "
                f"{fmt(row['common']):>12} {len(meter.log):>5} {reflections:>11}"
            )
        quotients = [(other, table["ours"]["common"][-1], table[other]["common"][-1]) for other in SYSTEMS[1:]]
        print(
            "  calls@common ours/"
            + ", ours/".join(f"{o} {fmt(a / b if a and b else None, '.2f')}" for o, a, b in quotients)
        )
        if args.noise:
            for name, run in runs.items():
                noisy[name].append(run)
                print("  " + noise_line(name, *run))
    print(f"\naggregate over {args.seeds} seeds")
    print(f"  {'system':<11} {'mean final':>10} {'reached 0.8x':>12} {'mean calls@0.8x':>15} {'mean calls@common':>17}")
    for name in SYSTEMS:
        col = table[name]
        reached = sum(x is not None for x in col["t80"])
        print(
            f"  {name:<11} {statistics.mean(col['final']):>10.3f} {f'{reached}/{args.seeds}':>12} "
            f"{mean_of_reached(col['t80']):>15} {mean_of_reached(col['common']):>17}"
        )
    for other in SYSTEMS[1:]:
        print(f"  ratio ours/{other} calls@0.8x:   {ratio(table['ours']['t80'], table[other]['t80'])}")
        print(f"  ratio ours/{other} calls@common: {ratio(table['ours']['common'], table[other]['common'])}")
    pairs = [(a, b) for a, b in zip(table["ours"]["common"], table["gepa"]["common"]) if a and b]
    if pairs:
        overall = sum(a for a, _ in pairs) / sum(b for _, b in pairs)
        verdict = "MET" if overall <= 0.5 else "NOT MET"
        print(f"  target (ours <= 0.50 x gepa's calls at the common score): {verdict} ({overall:.2f})")
    if args.noise:
        print(f"\nbad reflection replies over {args.seeds} seeds (P = {args.noise:g})")
        for name in SYSTEMS:
            print("  " + noise_summary(name, noisy[name]))
    print(f"  wall time {time.perf_counter() - began:.1f}s")


def kinds(counter: Counter) -> str:
    return "/".join(str(counter[k]) for k in BAD_KINDS)


def noise_line(name: str, meter: Meter, reflections: int, stats: dict) -> str:
    noise, pool = stats["noise"], stats["pool"]
    line = (
        f"{name:<11} bad replies {sum(noise.kinds.values())}/{reflections} (trunc/think/unch {kinds(noise.kinds)}); "
        f"real calls on them {sum(meter.blamed.values())} ({kinds(meter.blamed)})"
    )
    if pool is not None:
        line += (
            f"; pool {pool['size']}: from bad replies {sum(pool['direct'].values())} ({kinds(pool['direct'])}), "
            f"with descendants {pool['tainted']}; best {'TAINTED' if stats['best_tainted'] else 'clean'}"
        )
    if stats.get("rejected"):
        line += "; rejected before evaluation (any cause): " + ", ".join(
            f"{k} {v}" for k, v in sorted(stats["rejected"].items())
        )
    if stats["crash"]:
        line += f"; CRASHED: {stats['crash']}"
    if stats["failures"]:
        line += f"; {len(stats['failures'])} failure message(s) logged"
    return line


def noise_summary(name: str, runs: list[tuple[Meter, int, dict]]) -> str:
    bad, blamed, direct = Counter(), Counter(), Counter()
    reflections = calls = size = tainted = best_tainted = crashes = failures = 0
    for meter, n, stats in runs:
        bad.update(stats["noise"].kinds)
        blamed.update(meter.blamed)
        reflections, calls = reflections + n, calls + len(meter.log)
        crashes, failures = crashes + bool(stats["crash"]), failures + len(stats["failures"])
        if stats["pool"] is not None:
            direct.update(stats["pool"]["direct"])
            size, tainted = size + stats["pool"]["size"], tainted + stats["pool"]["tainted"]
            best_tainted += bool(stats["best_tainted"])
    return (
        f"{name:<11} bad replies {sum(bad.values())}/{reflections} (trunc/think/unch {kinds(bad)}); "
        f"real calls on them {sum(blamed.values())}/{calls} ({kinds(blamed)}); pool candidates {size}, from bad "
        f"replies {sum(direct.values())} ({kinds(direct)}), with descendants {tainted}; runs whose best is tainted "
        f"{best_tainted}/{len(runs)}; crashes {crashes}; failure messages {failures}"
    )


if __name__ == "__main__":
    main()
