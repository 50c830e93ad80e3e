"""The GEPA engine on the toy problem (no containers): learning, gates, frontier, proposal checks,
budgets that are never overshot, and a crash + resume that ends exactly where an uninterrupted run does."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from gskill.engine import CandidateRecord, EngineConfig, RunStore, count_tokens, frontier, optimize
from gskill.engine.proposer import parse_proposal, trim_middle
from tests.toy_problem import Crash, ScriptedReflector, ToyEvaluator, make_tasks

PROJECT = Path(__file__).resolve().parents[1]


def run(tmp_path: Path, evaluator=None, lm=None, name="store", train_size=24, **config):
    tasks = make_tasks(36)
    train, val = tasks[:train_size], tasks[24:]
    evaluator = evaluator or ToyEvaluator()
    config.setdefault("max_metric_calls", 120)
    result = optimize(
        {"skill": ""},
        evaluator,
        train,
        val,
        reflection_lm=lm or ScriptedReflector(),
        store=RunStore(tmp_path / f"{name}.sqlite"),
        config=EngineConfig(**config),
    )
    return result, evaluator, val


def test_learning_raises_validation_to_the_attainable_maximum(tmp_path):
    result, evaluator, val = run(tmp_path)
    attainable = evaluator.attainable(val)
    assert result.seed.val_mean <= 0.2  # the empty skill: base competence only
    assert result.best.val_mean >= 0.8 * attainable and result.best.val_mean > result.seed.val_mean
    assert all(c.tokens <= 2000 for c in result.candidates) and result.best.tokens == count_tokens(
        result.best.components["skill"]
    )
    # Every accepted child beat its parent on its minibatch — strictly; a simplified one may tie but is
    # shorter — and was then scored on all of val, or (one in validate_every) deferred: no score at all.
    by_index = {c.index: c for c in result.candidates}
    deferred = 0
    for candidate in result.candidates[1:]:
        child, parent = sum(candidate.minibatch["child"]), sum(candidate.minibatch["parent"])
        if candidate.operator == "simplify":
            assert child >= parent and candidate.tokens < by_index[candidate.parents[0]].tokens
        else:
            assert child > parent
        assert set(candidate.val_scores) in ({t["id"] for t in val}, set())
        deferred += not candidate.val_scores
        assert deferred < 5  # never five in a row: the fifth is validated
        deferred *= not candidate.val_scores
    assert result.best.val_scores and result.candidates[-1].val_scores  # the newest is validated at the end
    # The search never saw a validation task in a reflection prompt.
    lm_prompts = RunStore(tmp_path / "store.sqlite").lm_calls()
    assert lm_prompts and not any(t["id"] in call["prompt"] for call in lm_prompts for t in val)


def test_identical_calls_are_paid_once(tmp_path):
    # Few training tasks: epochs wrap, so parents meet minibatches they were already scored on.
    result, evaluator, _ = run(tmp_path, train_size=4, seed=1)
    assert len(evaluator.calls) == len(set(evaluator.calls)) == result.spend.metric_calls
    assert result.spend.cache_hits > 0


SEARCHES = [
    {},
    {"validation": "race", "race_chunk": 4},
    {"parent_selection": "pareto"},
    {"parent_selection": "thompson"},
]


@pytest.mark.parametrize("settings", SEARCHES, ids=["default", "race", "gepa", "thompson"])
@pytest.mark.parametrize("limit", [14, 23, 57])
def test_metric_call_budget_is_never_overshot(tmp_path, limit, settings):
    result, evaluator, _ = run(tmp_path, max_metric_calls=limit, **settings)
    assert len(evaluator.calls) <= limit and result.spend.metric_calls <= limit
    assert result.stop_reason in ("budget exhausted", "perfect validation score")


def test_dollar_budget_counts_rollouts_and_reflection_and_is_never_overshot(tmp_path):
    lm = ScriptedReflector(cost=0.05)
    result, evaluator, _ = run(
        tmp_path,
        evaluator=ToyEvaluator(cost_per_call=0.1),
        lm=lm,
        max_metric_calls=None,
        max_cost_usd=4.0,
        max_cost_per_reflection=0.05,
    )
    spent = 0.1 * len(evaluator.calls) + 0.05 * len(lm.prompts)
    assert result.stop_reason == "budget exhausted" and spent <= 4.0 + 1e-9
    assert abs(result.spend.cost_usd - spent) < 1e-9 and spent > 3.0  # used, not just reserved


@pytest.mark.parametrize("budget", [3.0, 3.3, 4.0])
def test_a_reflection_lm_that_bounds_its_price_is_held_to_that_bound(tmp_path, budget):
    """The fixed reserve ($0.25) is below what a reflection costs here ($0.45, bounded at $0.50): only the
    per-prompt bound keeps the budget, whatever headroom the last iteration leaves."""
    lm = ScriptedReflector(cost=0.45, bound=0.5)
    result, evaluator, _ = run(
        tmp_path, evaluator=ToyEvaluator(cost_per_call=0.1), lm=lm, max_metric_calls=None, max_cost_usd=budget
    )
    spent = 0.1 * len(evaluator.calls) + 0.45 * len(lm.prompts)
    assert result.stop_reason == "budget exhausted" and lm.prompts and spent <= budget + 1e-9
    assert abs(result.spend.cost_usd - spent) < 1e-9 and spent > budget - 1.5


def test_seed_that_cannot_be_scored_within_budget_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="cannot pay for scoring the seed"):
        run(tmp_path, max_metric_calls=5)


@pytest.mark.parametrize("settings", SEARCHES, ids=["default", "race", "gepa", "thompson"])
def test_crash_then_resume_equals_an_uninterrupted_run_and_reruns_nothing(tmp_path, settings):
    reference, _, _ = run(tmp_path, name="reference", workers=2, **settings)
    crashing = ToyEvaluator(fail_after=40)
    with pytest.raises(Crash):
        run(tmp_path, evaluator=crashing, name="resumed", workers=2, **settings)
    store = RunStore(tmp_path / "resumed.sqlite")
    done_before = {(e["candidate"], e["example"]) for e in store.evaluations()}
    assert 30 <= len(done_before) <= 40
    resumed_evaluator = ToyEvaluator()
    resumed, _, _ = run(tmp_path, evaluator=resumed_evaluator, name="resumed", workers=2, **settings)
    assert [c.to_json() for c in resumed.candidates] == [c.to_json() for c in reference.candidates]
    assert resumed.best.index == reference.best.index and resumed.spend.metric_calls == reference.spend.metric_calls
    # From the store: the resumed session ran no call the killed one had finished.
    executions = RunStore(tmp_path / "resumed.sqlite").executions()
    second = [e for e in executions if e["session"] != executions[0]["session"]]
    assert second and not {(e["candidate"], e["example"]) for e in second} & done_before
    assert len(resumed_evaluator.calls) == reference.spend.metric_calls - len(done_before)


def test_resume_with_a_larger_budget_continues_the_same_trajectory(tmp_path):
    short, _, _ = run(tmp_path, name="grow", max_metric_calls=30)
    longer, _, _ = run(tmp_path, name="grow", max_metric_calls=120)
    reference, _, _ = run(tmp_path, name="reference", max_metric_calls=120)
    assert [c.hash for c in longer.candidates] == [c.hash for c in reference.candidates]
    assert [c.hash for c in short.candidates] == [c.hash for c in longer.candidates[: len(short.candidates)]]


def test_a_store_refuses_another_search(tmp_path):
    run(tmp_path, name="one", max_metric_calls=20)
    with pytest.raises(ValueError, match="another search"):
        run(tmp_path, name="one", max_metric_calls=20, minibatch_size=2)


def test_a_store_from_before_the_search_choices_resumes_as_it_searched(tmp_path):
    """A store written before parent_selection, validation and validate_every existed searched as
    gepa does: resuming it with those settings continues; with today's defaults it is another search."""
    from gskill.engine.core import SETTINGS_ADDED_LATER

    gepa_like = {"parent_selection": "pareto", "validate_every": 1}
    run(tmp_path, name="old", max_metric_calls=20, **gepa_like)
    store = RunStore(tmp_path / "old.sqlite")
    recorded = store.get_meta("search")
    recorded["config"] = {k: v for k, v in recorded["config"].items() if k not in SETTINGS_ADDED_LATER}
    store.set_meta("search", recorded)
    store.close()
    resumed, _, _ = run(tmp_path, name="old", max_metric_calls=40, **gepa_like)
    assert resumed.spend.metric_calls > 20
    with pytest.raises(ValueError, match="another search"):
        run(tmp_path, name="old", max_metric_calls=60)


@pytest.mark.parametrize(
    "reply, reason",
    [
        ("I would add more detail.", "no fenced block"),
        ("````markdown\n# Skill\n- `src/shop/pricing.py` holds prices\n", "unclosed fence"),
        ("<think>Let me consider the failures. First, the agent", "unfinished <think>"),
        ("````markdown\n\n````", "empty proposal"),
        ("````markdown\n" + "- `src/shop/pricing.py` matters\n" * 400 + "````", "over budget"),
    ],
)
def test_malformed_proposals_are_rejected_and_never_evaluated(tmp_path, reply, reason):
    canned = [reply] * 3  # the over-budget case also gets a simplify pass, which fails the same way
    result, evaluator, _ = run(tmp_path, lm=ScriptedReflector(canned=canned), max_iterations=1, token_budget=300)
    [iteration] = result.iterations
    assert iteration["outcome"] == "rejected" and reason in iteration["reason"] + " ".join(iteration["notes"])
    assert {skill for skill, _ in evaluator.calls} == {""}  # only the seed was ever run


def test_an_over_budget_proposal_is_simplified_before_evaluation(tmp_path):
    long_reply = (
        "````markdown\n# Skill\n" + "- `src/shop/pricing.py`: prices live here; read it before editing.\n" * 60 + "````"
    )
    result, evaluator, _ = run(tmp_path, lm=ScriptedReflector(canned=[long_reply]), max_iterations=1, token_budget=300)
    [iteration] = result.iterations
    assert iteration["notes"][0].startswith("over budget") and iteration["notes"][1] == "simplified"
    assert all(count_tokens(skill) <= 300 for skill, _ in evaluator.calls)


def test_think_blocks_before_the_answer_are_ignored():
    proposal = parse_proposal("<think>plan</think>\n````markdown\n# New\n````", current="# Old", token_budget=100)
    assert proposal.ok and proposal.text == "# New\n"
    nested = parse_proposal("````markdown\n# New\n```bash\npytest -q\n```\n````", current="", token_budget=100)
    assert nested.ok and "```bash" in nested.text


def test_trim_keeps_head_and_tail():
    text = "HEAD " + "x" * 10_000 + " TAIL"
    trimmed = trim_middle(text, 500)
    assert trimmed.startswith("HEAD") and trimmed.endswith("TAIL") and len(trimmed) < 600


def _record(index: int, scores: list[float]) -> CandidateRecord:
    return CandidateRecord(
        index, {"skill": str(index)}, [], "refine", index, {f"v{i}": s for i, s in enumerate(scores)}, 1
    )


def test_frontier_drops_dominated_candidates_and_weights_by_fronts():
    candidates = [
        _record(0, [1, 0, 0, 0]),
        _record(1, [1, 1, 0, 0]),
        _record(2, [0, 0, 1, 0]),
        _record(3, [0, 0, 0, 0]),
    ]
    # Candidate 0 is dominated by 1; candidate 3 is on the v3 front (everyone ties at 0) but dominated.
    assert frontier.frontier_weights(candidates) == {1: 3, 2: 2}
    rng = random.Random(0)
    draws = [frontier.select_parent(candidates, rng).index for _ in range(3000)]
    assert set(draws) == {1, 2} and 0.55 < draws.count(1) / 3000 < 0.65
    assert frontier.best_candidate(candidates).index == 1
    assert frontier.complementary_partner(candidates, candidates[1]).index == 2


def test_the_guarded_parent_is_the_newest_unless_it_clearly_trails_the_best():
    best = _record(0, [1] * 8 + [0] * 2)
    close = _record(1, [1] * 7 + [0] * 3)  # one example behind: no evidence it is worse
    far = _record(2, [1] * 2 + [0] * 8)  # six behind, sqrt(6) standard errors: back to the best
    rng = random.Random(0)
    assert frontier.newest_unless_worse([best, close], rng, 2.0).index == 1
    assert frontier.newest_unless_worse([best, far], rng, 2.0).index == 0
    assert frontier.newest_unless_worse([best, far], rng, 3.0).index == 2
    assert frontier.paired_lead_is_negative([-1, -1, 0], 1.0) and not frontier.paired_lead_is_negative([-1], 1.5)
    # Thompson: a candidate picked about as often as it may be the best.
    draws = [frontier.thompson_parent([best, far], rng).index for _ in range(500)]
    assert draws.count(0) > 480


def test_combine_and_simplify_run_when_the_mix_asks_for_them(tmp_path):
    result, _, _ = run(
        tmp_path,
        max_metric_calls=200,
        operator_mix={"refine": 0.4, "combine": 0.3, "simplify": 0.3},
        simplify_min_tokens=40,
        seed=3,
    )
    operators = {it["operator"] for it in result.iterations}
    assert {"combine", "simplify"} & operators
    for candidate in result.candidates:
        if candidate.operator == "combine":
            assert len(candidate.parents) == 2


def test_the_engine_imports_no_harness_docker_or_litellm():
    code = "import sys, gskill.engine; bad = [m for m in sys.modules if m.split('.')[0] in ('docker', 'harnesses', 'litellm', 'swesmith')]; print(bad)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def test_frozen_components_never_change_and_others_take_turns(tmp_path):
    tasks = make_tasks(20)
    seed = {"skill": "", "system_prompt": "You fix bugs."}
    result = optimize(
        seed,
        ToyEvaluator(),
        tasks[:12],
        tasks[12:],
        reflection_lm=ScriptedReflector(),
        store=RunStore(tmp_path / "s.sqlite"),
        config=EngineConfig(max_metric_calls=80, frozen=("system_prompt",)),
    )
    assert len(result.candidates) > 1 and all(
        c.components["system_prompt"] == "You fix bugs." for c in result.candidates
    )
    assert {it["component"] for it in result.iterations} == {"skill"}
    with pytest.raises(ValueError, match="every component is frozen"):
        optimize(
            seed,
            ToyEvaluator(),
            tasks[:12],
            tasks[12:],
            reflection_lm=ScriptedReflector(),
            store=RunStore(tmp_path / "t.sqlite"),
            config=EngineConfig(max_metric_calls=80, frozen=("skill", "system_prompt")),
        )


def test_a_dollar_budget_is_checked_before_each_rollout_not_reserved_per_batch(tmp_path):
    # $0.50 cap per rollout, $0.05 actually spent: reserving a whole iteration (3 + 3 + 12 calls) at the cap
    # would stop a $2 run right after the seed. Checked before each rollout, the budget is used until one
    # more rollout at its cap could overshoot — and never beyond.
    class Capped(ToyEvaluator):
        max_cost_per_call = 0.5

    evaluator = Capped(cost_per_call=0.05)
    result, _, _ = run(
        tmp_path, evaluator=evaluator, max_metric_calls=None, max_cost_usd=2.0, max_cost_per_reflection=0.0, workers=2
    )
    spent = 0.05 * len(evaluator.calls)
    assert result.stop_reason == "budget exhausted" and len(result.candidates) >= 2
    assert spent <= 2.0 < spent + 0.5 and abs(result.spend.cost_usd - spent) < 1e-9
