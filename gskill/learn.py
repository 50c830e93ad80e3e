"""`gskill learn`: the engine (domain-free) wired to the harnesses (agents, Docker, grading).

This module is the adapter GEPA's design asks for: `HarnessEvaluator` turns (skill, task) into one
rollout + grade and the side information reflection reads; `LitellmReflection` is the reflection
model behind litellm (or a `scripted/` policy). `learn` runs the search over train/val, then scores
the seed and the best skill on the test split — which the search never saw — and writes the run
folder:

    RUNDIR/store.sqlite        every metric call and reflection reply (resume replays from it)
    RUNDIR/learn.json          the run's settings (what --resume reuses)
    RUNDIR/rollouts/<hash>/    each candidate's rollout traces
    RUNDIR/candidates.jsonl    accepted candidates: lineage, operator, scores, tokens, text
    RUNDIR/iterations.jsonl    every iteration: parent, operator, minibatch, gate, outcome
    RUNDIR/best_skill.md       the best skill
    RUNDIR/best_<surface>.md   with --surfaces: the best candidate's other surfaces (best_agents-md.md, ...)
    RUNDIR/test/{seed,best}/   `gskill eval` runs of both on the test split
    RUNDIR/evidence.json       best vs seed: diff, per-task wins, usage, sample traces, test scores
"""

from __future__ import annotations

import difflib
import json
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from gskill.checks import DEFAULT_TOKEN_BUDGET
from gskill.engine import (
    EngineConfig,
    Evaluation,
    EvaluationFailed,
    LMReply,
    Result,
    RunStore,
    candidate_hash,
    count_tokens,
    optimize,
    validation_summary,
)
from gskill.engine.core import SETTINGS_ADDED_LATER
from gskill.errors import GskillError
from gskill.schema import EvalRecord, RateLimit, RunConfig, SandboxLimits, Task, patch_files, read_tasks, write_atomic
from gskill.surfaces import SURFACES, best_file, is_default

COMPONENT = "skill"
OBJECTIVE = (
    "Write the skill document a coding agent reads before fixing bugs in this repository. It should raise the share "
    "of tasks the agent resolves (hidden tests pass, nothing else breaks) and help it finish in fewer steps."
)

# The operators' instructions in this domain (the engine's defaults are generic).
DIRECTIVES = {
    "refine": (
        "Study the tasks the agent failed next to the ones it solved. Find the failure modes and fix them in "
        "the {component}: add or correct the concrete knowledge about this repository (where code lives, how "
        "its parts relate, how to run and read its tests, conventions, pitfalls) that would have led the agent "
        "to a correct fix, and keep what the solved tasks show already works. The {component} will be used on "
        "OTHER tasks of the same repository: write reusable knowledge, never the answer to one task."
    ),
    "combine": (
        "Two versions of the {component} each succeed on tasks where the other fails. Merge them into one "
        "document that keeps the knowledge behind both sets of wins, resolves contradictions, and states each "
        "fact once."
    ),
    "simplify": (
        "Shorten the {component} to at most {target} tokens while keeping every piece of knowledge that helps "
        "the agent: remove repetition, filler, generic advice any engineer already follows, and anything the "
        "traces show is never used. Keep concrete paths, names and commands."
    ),
}


@dataclass
class LearnOptions:
    agent: str = "mini"
    model: str = ""
    reflection_model: str = ""
    skill_mode: str = ""
    seed_skill: str = ""  # the seed's text ("" = empty seed)
    max_metric_calls: int | None = 150
    max_cost_usd: float | None = None
    token_budget: int = DEFAULT_TOKEN_BUDGET
    minibatch: int = 3
    workers: int = 2
    seed: int = 0
    operator_mix: dict[str, float] = field(default_factory=lambda: {"refine": 0.6, "combine": 0.2, "simplify": 0.2})
    # How the search picks parents and validates children (gskill.engine.EngineConfig); gepa's own
    # behaviour is parent_selection="pareto" with validation="full".
    parent_selection: str = "guarded"
    validation: str = "full"
    validate_every: int = 5
    # What reflection is told about a failed TRAINING task's reference fix: "files" (which files it changed),
    # "diff" (the whole gold patch) or "none". Validation and test tasks never reach reflection.
    feedback_gold: str = "files"
    test_eval: bool = True
    scripted: dict[str, Any] = field(default_factory=dict)  # extra metadata for scripted agent models
    background: str = ""
    # Where rollouts run (not part of the search: a resume may change it).
    executor: str = "local"  # local | ray
    ray_address: str | None = None
    per_node: int = 4
    rate_limits: list[dict[str, Any]] = field(default_factory=list)  # RateLimit fields
    # Where the CLI publishes the best skill when the run ends (also after a --resume); not part of the search.
    publish_to: str = ""
    skill_name: str = ""
    # The instruction texts evolved together (gskill.surfaces); ["skill"] = the single-skill search.
    surfaces: list[str] = field(default_factory=lambda: ["skill"])
    frozen: list[str] = field(default_factory=list)  # surfaces kept at their seed text
    seed_surfaces: dict[str, str] = field(default_factory=dict)  # seed texts of surfaces other than the skill
    surface_choice: str = "round-robin"  # which surface a step edits: round-robin | implicated

    def seed_candidate(self) -> dict[str, str]:
        """The search's seed: {"skill": seed_skill} for the default search, else every surface's seed text."""
        return {
            name: self.seed_skill if name == "skill" else self.seed_surfaces.get(name, "") for name in self.surfaces
        }

    def surface_settings(self) -> dict[str, Any]:
        """The engine's per-component settings; none for the default search (its store identity is unchanged)."""
        if is_default(self.surfaces):
            return {"frozen": tuple(self.frozen)}
        settings: dict[str, Any] = {
            "frozen": tuple(self.frozen),
            "component_budgets": {n: SURFACES[n].token_budget for n in self.surfaces if n != "skill"},
            "component_descriptions": {n: SURFACES[n].description for n in self.surfaces},
            "component_choice": self.surface_choice,
        }
        if self.surface_choice == "implicated":
            settings["component_cues"] = {n: list(SURFACES[n].cues) for n in self.surfaces}
        return settings

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def executor_options(self):
        from harnesses.executor import ExecutorOptions

        return ExecutorOptions(
            self.executor, self.workers, self.ray_address, self.per_node, [RateLimit(**r) for r in self.rate_limits]
        )


# ------------------------------------------------------------------------------------------------
# The adapter's two halves


class HarnessEvaluator:
    """Engine `Evaluator`: one rollout of the agent with the candidate skill on a task, graded in a
    fresh container. Score 1 = resolved. Infrastructure failures are retried by the harness, then
    raised as `EvaluationFailed` (the engine stops; a resume retries) — never scored 0."""

    def __init__(
        self,
        *,
        config: RunConfig,
        run_dir: Path,
        executor,
        limits: SandboxLimits | None,
        skill_mode: str,
        feedback_gold: str,
        scripted: dict | None = None,
    ) -> None:
        self.config, self.run_dir, self.executor, self.limits = config, run_dir, executor, limits
        self.skill_mode, self.feedback_gold, self.scripted = skill_mode, feedback_gold, scripted or {}
        self.identity = json.dumps(
            {
                "agent": config.agent,
                "model": config.model,
                "skill_mode": skill_mode,
                "step_limit": config.step_limit,
                "command_timeout_s": config.command_timeout_s,
                "test_timeout_s": config.test_timeout_s,
                "skill_template": config.skill_template,
                "scripted": self.scripted,
            },
            sort_keys=True,
        )
        self.max_cost_per_call = 0.0 if config.model.startswith("scripted/") else float(config.cost_limit_usd)
        self._lock = threading.Lock()

    def example_id(self, task: Task) -> str:
        return task.instance_id

    def evaluate(self, candidate: dict[str, str], task: Task, seed: int) -> Evaluation:
        from harnesses.rollout import RolloutJob

        skill = candidate.get(COMPONENT, "")
        surfaces = {name: text for name, text in candidate.items() if name != COMPONENT}
        folder = self.run_dir / "rollouts" / candidate_hash(candidate)
        config = self.config.model_copy(update={"seed": seed})
        job = RolloutJob(
            task=task,
            config=config,
            skill=skill,
            skill_mode=self.skill_mode,
            surfaces=surfaces,
            limits=self.limits,
            scripted=self.scripted or None,
            run_dir=folder,
        )
        record = self.executor.run_one(job)
        folder.mkdir(parents=True, exist_ok=True)
        with self._lock, (folder / "rollouts.jsonl").open("a") as handle:
            handle.write(record.model_dump_json() + "\n")
        if record.infra_error:
            raise EvaluationFailed(
                f"{task.instance_id}: infrastructure failure after retries: {record.rollout.error or (record.grade and record.grade.log_tail[-300:])}"
            )
        return Evaluation(
            1.0 if record.resolved else 0.0,
            side_info(task, record, folder, self.feedback_gold),
            record.rollout.usage.cost_usd,
        )


def side_info(task: Task, record: EvalRecord, folder: Path, feedback_gold: str) -> dict[str, Any]:
    """What reflection reads of one rollout. Never the hidden tests' code or, unless asked, the fix."""
    from harnesses.traces import transcript

    grade, rollout = record.grade, record.rollout
    status = grade.status.value if grade else "infra_error"
    info: dict[str, Any] = {
        "Outcome": f"{status}; agent exit {rollout.exit_status.value} after {rollout.steps} steps, {rollout.wall_time_s:.0f} s, "
        f"{rollout.usage.input_tokens + rollout.usage.output_tokens} tokens",
        "Task": task.problem_statement,
    }
    if grade and grade.status.value != "resolved":
        failing = grade.f2p_failed or (task.FAIL_TO_PASS if status == "no_patch" else [])
        if failing:
            info["Failing tests"] = ", ".join(failing[:10])
        if grade.p2p_failed:
            info["Tests the patch broke"] = ", ".join(grade.p2p_failed[:10])
        if grade.log_tail:
            info["Test output"] = grade.log_tail
        if feedback_gold in ("files", "diff"):
            info["Files the reference fix changed"] = ", ".join(patch_files(task.patch))
        if feedback_gold == "diff":
            info["Reference fix"] = task.patch
    if rollout.patch:
        info["Agent's patch"] = rollout.patch
    stem = Path(rollout.trace_path).name.split(".agent.")[0]
    info["Agent trace"] = transcript(folder / "traces" / f"{stem}.gateway.jsonl")
    return info


class LitellmReflection:
    """Engine `ReflectionLM` through litellm (any provider, or `scripted/reflector`); every call is
    appended to `log_path` and priced at `endpoint.price` when given, else with litellm's price map
    (unknown price → counted as 0, noted). `endpoint.api_base`: a self-hosted server the model is on."""

    def __init__(self, model: str, *, log_path: Path, seed: int = 0, limiter=None, endpoint=None) -> None:
        from harnesses.gateway.limits import RateLimiter

        self.model, self.identity, self.seed, self.log_path = model, model, seed, log_path
        self.limiter = limiter or RateLimiter([])
        self.endpoint = endpoint  # gskill.schema.ModelEndpoint | None
        self.unpriced = 0

    def max_cost_usd(self, prompt: str) -> float | None:
        """The most one call on `prompt` can cost: its prompt tokens at the input price plus the model's
        longest output at the output price (litellm's price map). None for a model litellm cannot price."""
        from harnesses.gateway.models import _litellm, is_scripted

        if is_scripted(self.model):
            return 0.0
        litellm = _litellm()
        try:
            info = litellm.get_model_info(self.model)
            prompt_tokens = litellm.token_counter(model=self.model, messages=[{"role": "user", "content": prompt}])
            longest = int(info.get("max_output_tokens") or info.get("max_tokens") or 0)
            if self.endpoint is not None and self.endpoint.price is not None:
                price_in, price_out = self.endpoint.price[0] / 1e6, self.endpoint.price[1] / 1e6
            else:
                price_in = float(info["input_cost_per_token"] or 0)
                price_out = float(info["output_cost_per_token"] or 0)
        except Exception:  # unknown model or price: the engine's fixed reserve applies
            return None
        if not longest:
            return None
        return prompt_tokens * price_in + longest * price_out

    def __call__(self, prompt: str) -> LMReply:
        from harnesses.gateway.limits import call_within_limits, estimate_tokens
        from harnesses.gateway.models import CallLog, complete, cost_of, text_of

        messages = [{"role": "user", "content": prompt}]
        response, _ = call_within_limits(
            self.limiter,
            self.model,
            estimate_tokens(messages, None, {}),
            lambda: complete(
                self.model,
                messages,
                metadata={"seed": self.seed},
                log=CallLog(self.log_path),
                purpose="reflection",
                endpoint=self.endpoint,
            ),
            lambda response: int(getattr(response.usage, "total_tokens", 0) or 0),
        )
        cost = cost_of(response, self.model, self.endpoint)
        if cost is None:
            self.unpriced += 1
        return LMReply(text_of(response), cost or 0.0)


# ------------------------------------------------------------------------------------------------
# A drafted seed


def draft_seed(repo: Path, reflection: "LitellmReflection", token_budget: int) -> str:
    """A first skill drafted by the reflection model from the repository's README, file layout and test
    configuration (what an engineer reads on day one). Validated like any proposal."""
    import subprocess

    from gskill.engine.proposer import parse_proposal, trim_middle
    from languages import detect_language, profile_named

    files = subprocess.run(["git", "-C", str(repo), "ls-files"], capture_output=True, text=True).stdout.split()
    if not files:
        raise GskillError(f"{repo} has no tracked files to draft a skill from")
    readme = next((repo / name for name in files if name.lower().startswith("readme") and "/" not in name), None)
    language = detect_language(files)
    profile = profile_named(language) if language else None
    config = [name for name in files if profile and name in profile.config_files]

    def read_tracked(name: str) -> str | None:
        path = repo / name
        return path.read_text(errors="replace") if path.is_file() else None

    sections = [
        "You write the first version of a skill document: what a coding agent should know before fixing bugs in this repository.",
        f"## README\n{trim_middle(readme.read_text(errors='replace'), 4000) if readme else '(none)'}",
        "## Layout\n" + "\n".join(files[:300]) + (f"\n[... {len(files) - 300} more files]" if len(files) > 300 else ""),
        "## Test configuration\n"
        + (f"Language: {profile.title}; tests run with `{profile.test_command_hint}`.\n" if profile else "")
        + "".join(f"{note}\n" for note in (profile.layout_notes(files, read_tracked) if profile else []))
        + "\n"
        + "\n\n".join(f"### {name}\n{trim_middle((repo / name).read_text(errors='replace'), 1500)}" for name in config),
        "## Strategy: draft\nWrite a concise skill: where the main code lives, how the tests are organised and run, and "
        "conventions visible from these files. Only what these files support; no generic advice.",
        f"## Output\nReturn the skill inside ONE fenced block that opens with ````markdown and closes with ````. Hard limit: {token_budget} tokens.",
    ]
    proposal = parse_proposal(reflection("\n\n".join(sections)).text, current="", token_budget=token_budget)
    if not proposal.ok:
        raise GskillError(
            f"the reflection model's draft seed was unusable ({proposal.reason}); give --seed-skill FILE instead"
        )
    return proposal.text


# ------------------------------------------------------------------------------------------------
# The run


def load_split(tasks_dir: Path, split: str) -> list[Task]:
    path = tasks_dir / f"{split}.jsonl"
    if not path.is_file():
        raise GskillError(f"no {split} split in {tasks_dir} ({path.name} missing); mine with `gskill mine`")
    try:
        return read_tasks(path)
    except Exception as exc:
        raise GskillError(f"{path} is not a task file: {str(exc).splitlines()[0]}") from None


def claim_learn_folder(run_dir: Path, tasks_dir: Path, options: LearnOptions) -> None:
    """A learn folder holds one search; --resume may change only the budget and the worker count."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "learn.json"
    wanted = {"tasks": str(tasks_dir.resolve()), "options": options.to_json()}
    if not path.is_file():
        path.write_text(json.dumps(wanted, indent=2))
        return
    recorded = json.loads(path.read_text())
    recorded["options"] = {**OPTIONS_ADDED_LATER, **recorded["options"]}
    free = {
        "max_metric_calls",
        "max_cost_usd",
        "workers",
        "test_eval",
        "executor",
        "ray_address",
        "per_node",
        "rate_limits",
        "publish_to",
        "skill_name",
    }
    changed = sorted(
        key for key in wanted["options"] if key not in free and recorded["options"].get(key) != wanted["options"][key]
    ) + (["tasks"] if recorded.get("tasks") != wanted["tasks"] else [])
    if changed:
        raise GskillError(
            f"{run_dir} holds a learn run with another {', '.join(changed)}; resume it with --resume or use a new --out"
        )
    recorded["options"].update({key: wanted["options"][key] for key in free})
    path.write_text(json.dumps(recorded, indent=2))


def saved_options(run_dir: Path) -> tuple[Path, LearnOptions]:
    path = run_dir / "learn.json"
    if not path.is_file():
        raise GskillError(f"{run_dir} is not a learn run folder (no learn.json)")
    try:
        recorded = json.loads(path.read_text())
        tasks, options = recorded["tasks"], recorded["options"]
        unknown = sorted(set(options) - set(LearnOptions.__dataclass_fields__))
        if unknown:
            raise GskillError(
                f"{path} holds unknown setting(s) {', '.join(unknown)} (written by another gskill version?)"
            )
        # Runs written before the search had these choices searched as these defaults say.
        options = {**OPTIONS_ADDED_LATER, **options}
        return Path(tasks), LearnOptions(**options)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise GskillError(
            f"{path} is not a learn run's settings ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"
        ) from None


# Options added after learn.json was first written, with the value that reproduces how those runs searched:
# gepa's parent choice and validation, one surface (the skill).
OPTIONS_ADDED_LATER = {
    **{key: SETTINGS_ADDED_LATER[key] for key in ("parent_selection", "validation", "validate_every")},
    "surfaces": ["skill"],
    "frozen": [],
    "seed_surfaces": {},
    "surface_choice": "round-robin",
}

# Flags a resumed run may change; everything else defines the search and is read from learn.json.
RESUMABLE = (
    "workers",
    "executor",
    "ray_address",
    "per_node",
    "rate_limits",
    "max_metric_calls",
    "max_cost_usd",
    "publish_to",
    "skill_name",
)


def resume_options(run_dir: Path, updates: dict[str, Any]) -> tuple[Path, LearnOptions]:
    """The tasks folder and options of the run in `run_dir`, with `updates` (RESUMABLE keys; None = keep)
    applied. A run that was to publish still publishes where its first start would have."""
    tasks_dir, options = saved_options(run_dir)
    assert set(updates) <= set(RESUMABLE), sorted(set(updates) - set(RESUMABLE))
    kept = {"max_metric_calls", "max_cost_usd", "publish_to", "skill_name"}  # None / "" = as recorded
    changes = {key: value for key, value in updates.items() if key not in kept or value not in (None, "")}
    return tasks_dir, LearnOptions(**{**options.to_json(), **changes})


def mine_for_learn(repo: str, settings, workers: int, seed: int, mine: Callable, say: Callable[[str], None]) -> Path:
    """The one-shot job mines first, into the cache, keyed by the repository's snapshot: a second
    `gskill learn REPO` at the same commit reuses the tasks (and a cut-short mining run resumes).
    `mine(repo, MineOptions, settings)` runs swesmith's mining (the CLI's shows progress)."""
    from harnesses.images.build import resolve_snapshot
    from swesmith.pipeline import DEFAULT_STRATEGIES, MineOptions

    snapshot = resolve_snapshot(repo, None, settings.cache_dir)
    out_dir = settings.cache_dir / "mined" / f"{snapshot.name}-{snapshot.commit[:12]}"
    if (out_dir / "val.jsonl").is_file() and (out_dir / "train.jsonl").is_file():
        say(f"reusing mined tasks in {out_dir}")
        return out_dir
    options = MineOptions(
        out=out_dir,
        workers=workers,
        seed=seed,
        strategies=DEFAULT_STRATEGIES,
        test_timeout_s=settings.run.test_timeout_s,
    )
    report = mine(str(snapshot.path), options, settings)
    say(f"mined {report.tasks} tasks → {out_dir}")
    return out_dir


def learn(
    tasks_dir: Path,
    run_dir: Path,
    options: LearnOptions,
    *,
    limits: SandboxLimits | None,
    run_config: RunConfig,
    cache_dir: Path,
    on_event: Callable[[str, dict[str, Any]], None] | None = None,
    on_test_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    from harnesses.evaluate import evaluate
    from harnesses.executor import make_executor
    from harnesses.sandbox.docker_backend import adopt_run_folder

    train, val = load_split(tasks_dir, "train"), load_split(tasks_dir, "val")
    test = load_split(tasks_dir, "test") if (tasks_dir / "test.jsonl").is_file() else []
    if not train or not val:
        raise GskillError(f"{tasks_dir} needs tasks in both train and val (has {len(train)} / {len(val)})")
    if count_tokens(options.seed_skill) > options.token_budget:
        raise GskillError(
            f"the seed skill has {count_tokens(options.seed_skill)} tokens, over --token-budget {options.token_budget}"
        )
    claim_learn_folder(run_dir, tasks_dir, options)
    adopt_run_folder(run_dir)  # a killed run's containers here go; ours carry the folder
    config = run_config.model_copy(
        update={"agent": options.agent, "model": options.model, "workers": options.workers, "seed": options.seed}
    )
    engine_config = EngineConfig(
        seed=options.seed,
        minibatch_size=options.minibatch,
        operator_mix=options.operator_mix,
        parent_selection=options.parent_selection,
        validation=options.validation,
        validate_every=options.validate_every,
        token_budget=options.token_budget,
        max_metric_calls=options.max_metric_calls,
        max_cost_usd=options.max_cost_usd,
        workers=options.workers,
        eval_seed=options.seed,
        directives=DIRECTIVES,
        **options.surface_settings(),
    )
    store = RunStore(run_dir / "store.sqlite")
    executor = make_executor(options.executor_options(), agent=options.agent, cache_dir=cache_dir)
    try:
        evaluator = HarnessEvaluator(
            config=config,
            run_dir=run_dir,
            executor=executor,
            limits=limits,
            skill_mode=options.skill_mode,
            feedback_gold=options.feedback_gold,
            scripted=options.scripted,
        )
        # Reflection calls keep the same provider limits as the rollouts (one limiter, at the driver).
        reflection = LitellmReflection(
            options.reflection_model,
            log_path=run_dir / "reflection_calls.jsonl",
            seed=options.seed,
            limiter=executor.limiter,
            endpoint=run_config.endpoints.get(options.reflection_model),
        )
        try:
            result = optimize(
                options.seed_candidate(),
                evaluator,
                train,
                val,
                reflection_lm=reflection,
                store=store,
                config=engine_config,
                objective=OBJECTIVE,
                background=options.background,
                on_event=on_event,
            )
        except EvaluationFailed as exc:
            raise GskillError(f"{exc}; everything finished so far is saved: rerun with --resume {run_dir}") from None
        except ValueError as exc:
            raise GskillError(str(exc)) from None
        write_outputs(run_dir, result, store)
        tests: dict[str, Any] = {}
        if options.test_eval and test:
            for label, candidate in (("seed", result.seed), ("best", result.best)):
                if label == "best" and result.best.index == 0:
                    tests["best"] = tests["seed"]
                    continue
                tests[label] = evaluate(
                    test,
                    config=config,
                    skill=candidate.components.get(COMPONENT, ""),
                    surfaces={n: t for n, t in candidate.components.items() if n != COMPONENT},
                    run_dir=run_dir / "test" / label,
                    limits=limits,
                    skill_mode=options.skill_mode,
                    scripted=options.scripted or None,
                    executor=executor,
                    progress=on_test_progress or (lambda done, total: None),
                )
    finally:
        executor.close()
        store.close()
    summary = evidence(run_dir, result, options, tests, reflection.unpriced, RunStore(run_dir / "store.sqlite"))
    return summary


def write_outputs(run_dir: Path, result: Result, store: RunStore) -> None:
    lines = [json.dumps(record.to_json()) for record in result.candidates]
    write_atomic(run_dir / "candidates.jsonl", "\n".join(lines) + "\n")
    write_atomic(
        run_dir / "iterations.jsonl", "".join(json.dumps(entry, default=str) + "\n" for entry in result.iterations)
    )
    write_atomic(run_dir / "best_skill.md", result.best.components.get(COMPONENT, ""))
    for name, text in result.best.components.items():
        if name != COMPONENT:
            write_atomic(run_dir / best_file(name), text)


def surface_diffs(seed: dict[str, str], best: dict[str, str]) -> dict[str, str]:
    """Per surface, the unified diff seed → best ("" when unchanged)."""
    return {
        name: "".join(difflib.unified_diff(seed.get(name, "").splitlines(True), text.splitlines(True), "seed", "best"))
        for name, text in best.items()
    }


def evidence(
    run_dir: Path, result: Result, options: LearnOptions, tests: dict[str, Any], unpriced: int, store: RunStore
) -> dict[str, Any]:
    seed, best = result.seed, result.best
    wins = sorted(k for k in best.val_scores if best.val_scores[k] > seed.val_scores.get(k, 0))
    losses = sorted(k for k in best.val_scores if best.val_scores[k] < seed.val_scores.get(k, 0))
    diffs = surface_diffs(seed.components, best.components)
    diff = diffs.get(COMPONENT, "")
    samples = sorted(
        str(path.relative_to(run_dir)) for path in (run_dir / "rollouts" / best.hash / "traces").glob("*.gateway.jsonl")
    )[:4]
    executions = store.executions()
    store.close()
    packet = {
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "agent": options.agent,
        "model": options.model,
        "reflection_model": options.reflection_model,
        "scripted": options.model.startswith("scripted/") or options.reflection_model.startswith("scripted/"),
        "stop_reason": result.stop_reason,
        "seed": {"val_mean": round(seed.val_mean, 4), "tokens": seed.tokens},
        "best": {
            "index": best.index,
            "hash": best.hash,
            "operator": best.operator,
            "parents": best.parents,
            "val_mean": round(best.val_mean, 4),
            "tokens": best.tokens,
            "token_budget": options.token_budget,
            "text": best.components.get(COMPONENT, ""),
        },
        "diff_vs_seed": diff,
        "surfaces": {
            name: {
                "frozen": name in options.frozen,
                "seed": seed.components.get(name, ""),
                "best": text,
                "tokens": count_tokens(text),
                "token_budget": options.token_budget if name == COMPONENT else SURFACES[name].token_budget,
                "diff_vs_seed": diffs[name],
                "file": best_file(name),
            }
            for name, text in best.components.items()
        },
        "val_wins": wins,
        "val_losses": losses,
        "candidates": len(result.candidates),
        "search": {
            "parent_selection": options.parent_selection,
            "validation": options.validation,
            "validate_every": options.validate_every,
            **validation_summary(result.iterations),
        },
        "iterations": len(result.iterations),
        "operators": {
            op: sum(1 for it in result.iterations if it.get("operator") == op)
            for op in ("refine", "combine", "simplify")
        },
        "accepted": sum(1 for it in result.iterations if it.get("outcome") == "accepted"),
        "spend": result.spend.to_json(),
        "budget": {"max_metric_calls": options.max_metric_calls, "max_cost_usd": options.max_cost_usd},
        "executions": len(executions),
        "unpriced_reflection_calls": unpriced,
        "test": {
            label: {
                k: run[k]
                for k in (
                    "tasks",
                    "resolved",
                    "resolve_rate",
                    "scored_runs",
                    "infra_errors",
                    "cost_usd",
                    "mean_duration_s",
                )
            }
            for label, run in tests.items()
        },
        "sample_traces": samples,
    }
    write_atomic(run_dir / "evidence.json", json.dumps(packet, indent=2))
    return packet
