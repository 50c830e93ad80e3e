"""The GEPA loop, domain-free: `optimize(seed, evaluator, trainset, valset, reflection_lm, ...)`.

    seed ──► score on every validation example ──► pool
    loop: parent ← pool (`parent_selection`: newest unless it clearly trails the best · gepa's
          frontier-frequency draw · Thompson) · minibatch ← epoch-shuffled train
          parent on minibatch (cached) · operator ← mix (refine / combine / simplify)
          proposal ← reflection model (validated: fenced, finished, non-empty, within token budget)
          child on minibatch · gate: child's sum > parent's (simplify: ≥ and shorter)
          accepted → one in `validate_every`: child on every validation example (`validation="race"`:
          in chunks against the parent, dropped once it clearly trails); the others deferred → pool
    end: the newest candidate's deferred validation
    best = highest validation mean (ties: more fronts, fewer tokens)

Where we differ from gepa 0.1.4 on purpose:
- the default parent is the newest candidate (a hill climb with a guard), not a frontier draw, and
  only one kept child in five is validated (the rest are refined further unvalidated): on
  benchmarks/optimizer_worlds.py this reached a higher true test score for the same rollouts;
- the budget never overshoots: metric calls are counted exactly before a batch (an iteration starts
  only if it can also pay for the child's validation); dollars are checked before each call, with
  every call in flight reserved at the evaluator's per-call cost bound;
- every call is persisted as it finishes (`RunStore`), identical calls are never paid twice, and a
  resumed run replays the same trajectory from the store — same proposals, same decisions — then goes on;
- proposals over the token budget are simplified once, then rejected; malformed ones are rejected;
- combine works on single-component candidates (an LLM merge of two complementary frontier members);
- candidates of several components (gskill's surfaces): a step edits ONE component (round robin, or
  the one the failures implicate: `component_choice`), within that component's budget; combine merges
  that component of the two candidates and takes the others from the parent; a refined child that ties
  its parent on the minibatch is refined on the next component before the gate (`Engine._refine_on`).

The replay is exact because every random choice comes from one seeded generator and every input to a
decision (scores, replies, costs) comes from the store on replay. Evaluations run in parallel but are
consumed in a fixed order.
"""

from __future__ import annotations

import json
import math
import random
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from gskill.engine import frontier as pareto
from gskill.engine.proposer import Proposal, build_prompt, parse_proposal
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

OPERATORS = ("refine", "combine", "simplify")
VALIDATION_MODES = ("race", "full")
COMPONENT_CHOICES = ("round-robin", "implicated")


@dataclass
class EngineConfig:
    seed: int = 0
    minibatch_size: int = 3
    operator_mix: dict[str, float] = field(default_factory=lambda: {"refine": 0.6, "combine": 0.2, "simplify": 0.2})
    token_budget: int = 2000  # per component, tiktoken o200k_base
    max_metric_calls: int | None = None  # paid evaluator calls (cache hits are free)
    max_cost_usd: float | None = None  # evaluator + reflection dollars
    # Reserved for each reflection call against max_cost_usd, unless the reflection LM bounds a call's
    # price itself (`max_cost_usd(prompt)`): then that bound is checked before the call.
    max_cost_per_reflection: float = 0.25
    max_iterations: int | None = None
    workers: int = 1
    frozen: tuple[str, ...] = ()  # components never proposed
    eval_seed: int = 0  # passed to the evaluator (part of the cache key)
    perfect_score: float = 1.0
    stop_at_perfect: bool = True  # stop once a candidate scores perfect on every validation example
    skip_perfect_parent: bool = True  # refine has nothing to learn from a flawless minibatch
    simplify_min_tokens: int = 200  # below this, simplify turns into refine
    side_info_chars: int = 6000  # per failed example in a reflection prompt
    # The adapter's wording of each operator's instruction ({component}, {target} filled in); defaults are generic.
    directives: dict[str, str] = field(default_factory=dict)
    # Which candidate a step refines. "guarded" (default): the newest candidate, so accepted steps
    # build on each other, unless its validation trails the best candidate's by more than `guard_z`
    # standard errors of the paired difference (then the best). "pareto": gepa's frontier-frequency
    # sampling. "thompson": the highest draw from each candidate's Beta posterior of its validation mean.
    parent_selection: str = "guarded"
    guard_z: float = 2.0
    # How a child that passed its gate is validated. "full" (default): on every validation example
    # (gepa). "race": in chunks of `race_chunk`, in an order of its own, against its parent's cached
    # scores on the same examples; rejected as soon as it trails by `race_z` standard errors.
    validation: str = "full"
    race_chunk: int = 10
    race_z: float = 2.0
    # Validate one kept child in `validate_every` (1 = every one, as gepa); the others join the pool
    # unvalidated ("deferred": a parent for the next steps, never returned), and the newest is
    # validated when the search stops (an iteration starts only if that validation stays affordable).
    validate_every: int = 5
    # Candidates with several components ("surfaces": a skill, an AGENTS.md section, a system prompt...):
    # `component_budgets` overrides `token_budget` per component; `component_descriptions` tells reflection
    # what the component it edits is (a "## Surface" section of the prompt; none = the prompt as for one
    # component); `component_choice` picks the component a step edits: "round-robin" over the unfrozen
    # ones, or "implicated": the one whose `component_cues` (phrases, case-insensitive) occur most often
    # in the side information of the parent's failed minibatch examples (no cue found, or a tie: the
    # round-robin one). Frozen components keep their seed text in every candidate.
    component_budgets: dict[str, int] = field(default_factory=dict)
    component_descriptions: dict[str, str] = field(default_factory=dict)
    component_choice: str = "round-robin"
    component_cues: dict[str, list[str]] = field(default_factory=dict)

    def budget_of(self, component: str) -> int:
        return self.component_budgets.get(component, self.token_budget)

    def __post_init__(self) -> None:
        unknown = set(self.operator_mix) - set(OPERATORS)
        if unknown or not any(self.operator_mix.get(op, 0) > 0 for op in OPERATORS):
            raise ValueError(f"operator_mix needs positive weights for {', '.join(OPERATORS)}; got {self.operator_mix}")
        if self.validation not in VALIDATION_MODES:
            raise ValueError(f"validation must be one of {', '.join(VALIDATION_MODES)}; got {self.validation!r}")
        if self.parent_selection not in pareto.PARENT_SELECTION:
            raise ValueError(f"parent_selection must be one of {', '.join(pareto.PARENT_SELECTION)}")
        if self.component_choice not in COMPONENT_CHOICES:
            raise ValueError(f"component_choice must be one of {', '.join(COMPONENT_CHOICES)}")
        if min(self.minibatch_size, self.workers, self.token_budget, self.race_chunk, self.validate_every) < 1:
            raise ValueError("minibatch_size, workers, token_budget, race_chunk and validate_every must be positive")


@dataclass
class Spend:
    metric_calls: int = 0  # paid evaluator calls charged to this run's trajectory
    cache_hits: int = 0  # calls answered by the store or memory within the trajectory
    eval_cost_usd: float = 0.0
    reflection_calls: int = 0
    reflection_cost_usd: float = 0.0

    @property
    def cost_usd(self) -> float:
        return self.eval_cost_usd + self.reflection_cost_usd

    def to_json(self) -> dict[str, Any]:
        return {
            "metric_calls": self.metric_calls,
            "cache_hits": self.cache_hits,
            "eval_cost_usd": round(self.eval_cost_usd, 6),
            "reflection_calls": self.reflection_calls,
            "reflection_cost_usd": round(self.reflection_cost_usd, 6),
            "cost_usd": round(self.cost_usd, 6),
        }


@dataclass
class Result:
    candidates: list[CandidateRecord]
    best: CandidateRecord
    iterations: list[dict[str, Any]]
    spend: Spend
    stop_reason: str

    @property
    def seed(self) -> CandidateRecord:
        return self.candidates[0]


class BudgetExhausted(Exception):
    """The dollar budget cannot pay for the next call (raised between calls; finished ones are kept)."""


class _Budget:
    """Metric calls are counted exactly, per batch, before it starts. Dollars are checked before EACH
    rollout: it starts only if the spend so far plus every rollout in flight (this one included) at
    its cost cap stays within the budget — so a dollar budget is never overshot, yet is not reserved
    for a whole validation set at the cap (which would stop a $40 run with $3 caps at once)."""

    def __init__(self, config: EngineConfig, evaluator: Evaluator, spend: Spend) -> None:
        self.config, self.bound, self.spend = config, float(evaluator.max_cost_per_call or 0.0), spend
        self.reflection_reserve = config.max_cost_per_reflection  # raised to the largest bound the LM has given

    def affords(self, calls: int, reflections: int = 0) -> bool:
        c = self.config
        if c.max_metric_calls is not None and self.spend.metric_calls + calls > c.max_metric_calls:
            return False
        if c.max_cost_usd is not None:
            reserve = (self.bound if calls else 0.0) + reflections * self.reflection_reserve
            if self.spend.cost_usd + reserve > c.max_cost_usd + 1e-12:
                return False
        return True

    def may_start(self, spent_usd: float, in_flight: int) -> bool:
        c = self.config
        return c.max_cost_usd is None or spent_usd + (in_flight + 1) * self.bound <= c.max_cost_usd + 1e-12


class _Minibatches:
    """Epoch-shuffled minibatches of distinct training examples (GEPA's epoch sampler)."""

    def __init__(self, ids: list[str], size: int, rng: random.Random) -> None:
        self.ids, self.size, self.rng, self.queue = ids, min(size, len(ids)), rng, []

    def next(self) -> list[str]:
        batch: list[str] = []
        while len(batch) < self.size:
            if not self.queue:
                epoch = list(self.ids)
                self.rng.shuffle(epoch)
                self.queue = epoch
            item = self.queue.pop(0)
            if item not in batch:
                batch.append(item)
        return batch


class Engine:
    def __init__(
        self,
        evaluator: Evaluator,
        reflection_lm: ReflectionLM,
        trainset: Sequence[Any],
        valset: Sequence[Any],
        store: RunStore,
        config: EngineConfig,
        objective: str = "",
        background: str = "",
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        if not trainset or not valset:
            raise ValueError("optimize needs a non-empty trainset and valset")
        self.evaluator, self.lm, self.store, self.config = evaluator, reflection_lm, store, config
        self.objective, self.background = objective, background
        self.train = {evaluator.example_id(e): e for e in trainset}
        self.val = {evaluator.example_id(e): e for e in valset}
        if overlap := set(self.train) & set(self.val):
            raise ValueError(f"train and validation sets share examples: {sorted(overlap)[:3]}")
        self.on_event = on_event or (lambda kind, data: None)
        self.rng = random.Random(config.seed)
        self.spend = Spend()
        self.budget = _Budget(config, evaluator, self.spend)
        self.memo: dict[tuple[str, str], Evaluation] = {}  # this trajectory's calls (charged once)
        self.candidates: list[CandidateRecord] = []
        self.iterations: list[dict[str, Any]] = []
        self.pool = ThreadPoolExecutor(max_workers=config.workers)
        self.component_turn = 0

    # -- evaluation ----------------------------------------------------------------------------
    def _key(self, candidate: Candidate, example_id: str) -> tuple[str, str]:
        return candidate_hash(candidate), example_id

    def new_calls(self, candidate: Candidate, example_ids: Sequence[str]) -> int:
        return sum(self._key(candidate, i) not in self.memo for i in example_ids)

    def evaluate(self, candidate: Candidate, example_ids: Sequence[str], examples: dict[str, Any]) -> list[Evaluation]:
        """Scores of `candidate` on the examples, in order. The caller checked the budget."""
        ident, seed, chash = self.evaluator.identity, self.config.eval_seed, candidate_hash(candidate)
        self.store.save_text(chash, candidate)
        results: dict[str, Evaluation] = {}
        to_run: list[str] = []
        for example_id in example_ids:
            key = (chash, example_id)
            if key in self.memo:
                results[example_id] = self.memo[key]
                self.spend.cache_hits += 1
            elif (stored := self.store.evaluation(ident, chash, example_id, seed)) is not None:
                results[example_id] = stored
            else:
                to_run.append(example_id)

        def run(example_id: str) -> Evaluation:
            execution = self.store.started(ident, chash, example_id, seed)
            result = self.evaluator.evaluate(candidate, examples[example_id], seed)
            result.score = float(result.score)
            self.store.finished(execution, ident, chash, example_id, seed, result)  # persisted as it finishes
            return result

        queue, pending = list(to_run), {}
        # Live spend for the check before each rollout: charged so far, this batch's stored results, and
        # (below) each rollout as it finishes.
        spent = self.spend.cost_usd + sum(r.cost_usd for i, r in results.items() if (chash, i) not in self.memo)
        failure: BaseException | None = None
        while queue or pending:
            while (
                queue
                and failure is None
                and len(pending) < self.config.workers
                and self.budget.may_start(spent, len(pending))
            ):
                example_id = queue.pop(0)
                pending[self.pool.submit(run, example_id)] = example_id
            if not pending:
                break  # nothing in flight and the next rollout is not affordable (or a failure stopped us)
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                example_id = pending.pop(future)
                try:
                    results[example_id] = future.result()
                    spent += results[example_id].cost_usd
                except BaseException as exc:  # keep collecting: the others are persisted for the resume
                    failure = failure or exc
        # Charge what finished (in a fixed order), including the calls of a batch cut short: they were paid.
        for example_id in example_ids:
            key = (chash, example_id)
            if example_id in results and key not in self.memo:
                self.memo[key] = results[example_id]
                self.spend.metric_calls += 1
                self.spend.eval_cost_usd += results[example_id].cost_usd
        if failure is not None:
            if isinstance(failure, EvaluationFailed) or not isinstance(failure, Exception):
                raise failure  # EvaluationFailed as is; KeyboardInterrupt / SystemExit untouched
            raise EvaluationFailed(f"{type(failure).__name__}: {failure}") from failure
        if queue:
            raise BudgetExhausted(f"{len(queue)} of {len(example_ids)} calls left unpaid")
        return [results[example_id] for example_id in example_ids]

    # -- reflection ----------------------------------------------------------------------------
    def reflect(self, prompt: str) -> LMReply:
        reply = self.store.lm_reply(self.lm.identity, prompt)
        if reply is None:
            # A reflection LM that can bound a call's price (`max_cost_usd(prompt)`) is held to that bound
            # before the call; the next iterations' pre-checks then reserve at least as much.
            bound = getattr(self.lm, "max_cost_usd", lambda prompt: None)(prompt)
            if bound is not None:
                self.budget.reflection_reserve = max(self.budget.reflection_reserve, bound)
            else:
                bound = self.config.max_cost_per_reflection
            if self.config.max_cost_usd is not None and self.spend.cost_usd + bound > self.config.max_cost_usd + 1e-12:
                raise BudgetExhausted(f"a reflection call may cost up to ${bound:.4f}")
            reply = self.lm(prompt)
            self.store.save_lm_reply(self.lm.identity, prompt, reply)
        self.spend.reflection_calls += 1
        self.spend.reflection_cost_usd += reply.cost_usd
        return reply

    def propose(
        self,
        operator: str,
        component: str,
        parent: CandidateRecord,
        partner: CandidateRecord | None,
        batch: list[tuple[str, Evaluation]],
    ) -> tuple[Proposal, list[str]]:
        """One proposal (plus at most one simplify pass if it is over budget). Returns it and the prompts' notes."""
        current = parent.components[component]
        score_line = (
            f"{sum(e.score for _, e in batch):g}/{len(batch)} on this minibatch, validation mean {parent.val_mean:.2f}"
        )
        target, budget = None, self.config.budget_of(component)
        if operator == "simplify":
            target = max(1, min(budget, int(count_tokens(current) * 0.75)))
        prompt = build_prompt(
            operator,
            component=component,
            current=current,
            score_line=score_line,
            examples=batch,
            other=partner.components[component] if partner else "",
            other_score_line=f"validation mean {partner.val_mean:.2f}" if partner else "",
            objective=self.objective,
            background=self.background,
            token_budget=budget,
            target_tokens=target,
            side_info_chars=self.config.side_info_chars,
            directives=self.config.directives,
            surface=self.config.component_descriptions.get(component, ""),
        )
        proposal = parse_proposal(self.reflect(prompt).text, current=current, token_budget=budget)
        notes = [] if proposal.ok else [proposal.reason]
        if proposal.text is not None and proposal.reason.startswith("over budget"):
            if not self.budget.affords(0, reflections=1):
                return Proposal(None, proposal.reason + "; no budget to simplify"), notes
            prompt = build_prompt(
                "simplify",
                component=component,
                current=proposal.text,
                score_line="not yet evaluated",
                objective=self.objective,
                background=self.background,
                token_budget=budget,
                target_tokens=budget,
                directives=self.config.directives,
                surface=self.config.component_descriptions.get(component, ""),
            )
            proposal = parse_proposal(self.reflect(prompt).text, current=current, token_budget=budget)
            notes.append("simplified" if proposal.ok else proposal.reason)
        return proposal, notes

    # -- the loop ------------------------------------------------------------------------------
    def _add(
        self,
        components: Candidate,
        parents: list[int],
        operator: str,
        iteration: int,
        minibatch: dict,
        validation: dict[str, Any] | None = None,
    ) -> CandidateRecord:
        val_ids = list(self.val)
        if validation and validation["mode"] == "deferred":
            scores, val_ids = [], []
        elif validation and validation["mode"] == "raced":  # the race scored every example already
            chash = candidate_hash(components)
            scores = [self.memo[(chash, example_id)] for example_id in val_ids]
        else:
            scores = self.evaluate(components, val_ids, self.val)
        record = CandidateRecord(
            index=len(self.candidates),
            components=dict(components),
            parents=parents,
            operator=operator,
            iteration=iteration,
            val_scores={i: s.score for i, s in zip(val_ids, scores)},
            tokens=candidate_tokens(components),
            minibatch=minibatch,
            validation=validation or {"mode": "full"},
        )
        self.candidates.append(record)
        self.store.save_candidate(record.index, record.to_json())
        self._announce(record)
        return record

    def _race(self, child: Candidate, parent: CandidateRecord, val_ids: list[str]) -> dict[str, Any]:
        """Score `child` on the validation examples chunk by chunk, in an order of its own (no example
        is always first), against `parent`'s scores on the same examples (cached: only the child
        pays). Stops as soon as the child trails by more than `race_z` standard errors of the paired
        difference: {"mode": "raced out", "scored": k, "of": V, "reason": ...}; else, every example
        scored, {"mode": "raced", "of": V}."""
        config, chash = self.config, candidate_hash(child)
        order = list(val_ids)
        random.Random(f"race:{config.seed}:{chash}").shuffle(order)
        for start in range(0, len(order), config.race_chunk):
            end = min(start + config.race_chunk, len(order))
            self.evaluate(child, order[start:end], self.val)
            gaps = [self.memo[(chash, i)].score - parent.val_scores[i] for i in order[:end]]
            if end < len(order) and pareto.paired_lead_is_negative(gaps, config.race_z):
                reason = f"raced out at {end}/{len(order)}: {sum(gaps):+g} against candidate {parent.index}"
                return {"mode": "raced out", "scored": end, "of": len(order), "reason": reason}
        return {"mode": "raced", "of": len(order)}

    def _choose_operator(self, parent: CandidateRecord, component: str) -> tuple[str, CandidateRecord | None]:
        mix = self.config.operator_mix
        operator = self.rng.choices(OPERATORS, weights=[mix.get(op, 0.0) for op in OPERATORS], k=1)[0]
        partner = None
        if operator == "combine":
            partner = pareto.complementary_partner(self.candidates, parent)
            if partner is None:
                operator = "refine"
        if operator == "simplify" and count_tokens(parent.components[component]) < self.config.simplify_min_tokens:
            operator = "refine"
        return operator, partner

    def _refine_on(
        self,
        mutable: list[str],
        component: str,
        child: Candidate,
        scores: list[Evaluation],
        batch_ids: list[str],
        val_ids: list[str],
        parent_sum: float,
    ) -> tuple[Candidate, list[Evaluation], list[dict[str, Any]]]:
        """Several components: a refined child that only TIES its parent on the minibatch is refined further
        on the next component (in round-robin order; each told its component, reading the child's own
        failures), and gated against the original parent once more — until it scores differently, every
        component was edited once, a proposal is rejected, or the budget cannot pay (the minibatch and the
        validation the child may need). Knowledge that only helps once two components hold their parts is
        then learnable; a child that does worse is not refined further. Returns the final child, its
        minibatch scores and one record per extra edit ("chain" in the iteration log)."""
        chain: list[dict[str, Any]] = []
        start = mutable.index(component)
        for name in [mutable[(start + k) % len(mutable)] for k in range(1, len(mutable))]:
            if sum(e.score for e in scores) != parent_sum or not self.budget.affords(
                len(batch_ids) + len(val_ids), reflections=1
            ):
                break
            step = CandidateRecord(-1, child, [], "refine", 0, {}, candidate_tokens(child))  # not validated
            proposal, notes = self.propose("refine", name, step, None, list(zip(batch_ids, scores)))
            link: dict[str, Any] = {"component": name, "notes": notes}
            chain.append(link)
            if not proposal.ok:
                link.update(outcome="rejected", reason=proposal.reason)
                break
            child = {**child, name: proposal.text}
            scores = self.evaluate(child, batch_ids, self.train)
            link.update(child_scores=[e.score for e in scores], child_hash=candidate_hash(child))
        return child, scores, chain

    def _implicated(self, mutable: list[str], scores: list[Evaluation], turn: str) -> tuple[str, dict[str, int]]:
        """The component the parent's failed examples implicate: the most mentions of its cues in their
        side information; no mention or a tie → `turn` (the round-robin choice)."""
        failed = [e for e in scores if e.score < self.config.perfect_score]
        text = "\n".join(json.dumps(e.side_info, default=str, sort_keys=True) for e in failed).lower()
        mentions = {
            name: sum(text.count(cue.lower()) for cue in self.config.component_cues.get(name, ())) for name in mutable
        }
        top = max(mentions.values())
        leaders = [name for name, count in mentions.items() if count == top]
        return (leaders[0] if top and len(leaders) == 1 else turn), mentions

    def _log(self, entry: dict[str, Any]) -> None:
        entry["spend"] = self.spend.to_json()
        self.iterations.append(entry)
        self.store.save_iteration(entry["iteration"], entry)
        self.on_event("iteration", entry)

    def run(self, seed_candidate: Candidate) -> Result:
        config = self.config
        mutable = [name for name in seed_candidate if name not in config.frozen]
        if not mutable:
            raise ValueError("every component is frozen: nothing to optimize")
        for name, text in seed_candidate.items():
            if name not in config.frozen and count_tokens(text) > config.budget_of(name):
                raise ValueError(
                    f"seed component {name!r} has {count_tokens(text)} tokens, over the budget of {config.budget_of(name)}"
                )
        val_ids = list(self.val)
        if not self.budget.affords(self.new_calls(seed_candidate, val_ids)):
            raise ValueError(f"the budget cannot pay for scoring the seed on {len(val_ids)} validation examples")
        try:
            self._add(seed_candidate, [], "seed", 0, {})
        except BudgetExhausted as exc:
            self.pool.shutdown(wait=True)
            raise ValueError(
                f"the dollar budget cannot pay for scoring the seed on {len(val_ids)} validation examples ({exc}; each call in "
                f"flight is reserved at its cost cap of ${self.budget.bound:g}: raise the budget or lower the cap)"
            ) from None
        sampler = _Minibatches(list(self.train), config.minibatch_size, self.rng)
        max_idle = 2 * math.ceil(len(self.train) / max(1, config.minibatch_size)) + 5
        stop_reason, done, self.idle = "", 0, 0
        try:
            while not stop_reason:
                stop_reason = self._stop_reason(done, max_idle)
                if stop_reason:
                    break
                done += 1
                try:
                    stop_reason = self._iterate(sampler, mutable, val_ids, done)
                except BudgetExhausted:  # the dollar check before a rollout said no: what was paid is kept
                    stop_reason = "budget exhausted"
            self._validate_newest(val_ids)
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
        best = pareto.best_candidate(self.candidates)
        self.on_event("done", {"best": best, "stop_reason": stop_reason, "spend": self.spend.to_json()})
        return Result(self.candidates, best, self.iterations, self.spend, stop_reason)

    def _validate_newest(self, val_ids: list[str]) -> None:
        """At the end of a search, the newest candidate's deferred validation, when affordable (the
        iteration that made it left room for it in the call budget; a dollar budget may not)."""
        newest = self.candidates[-1]
        if newest.val_scores or not self.budget.affords(self.new_calls(newest.components, val_ids)):
            return
        try:
            scores = self.evaluate(newest.components, val_ids, self.val)
        except BudgetExhausted:
            return
        newest.val_scores = {i: e.score for i, e in zip(val_ids, scores)}
        newest.validation = {"mode": "full", "at": "end"}
        self.store.save_candidate(newest.index, newest.to_json())
        self._announce(newest)

    def _announce(self, record: CandidateRecord) -> None:
        weights = pareto.frontier_weights(self.candidates)
        covered = sum(1 for members in pareto.fronts(self.candidates).values() if members & set(weights))
        self.on_event(
            "candidate",
            {
                "candidate": record,
                "best_val": pareto.best_candidate(self.candidates).val_mean,
                "frontier": len(weights),
                "covered": covered,
                "spend": self.spend.to_json(),
            },
        )

    def _stop_reason(self, done: int, max_idle: int) -> str:
        config = self.config
        best = pareto.best_candidate(self.candidates)
        if config.stop_at_perfect and all(s >= config.perfect_score for s in best.val_scores.values()):
            return "perfect validation score"
        if config.max_iterations is not None and done >= config.max_iterations:
            return "max iterations"
        if self.idle >= max_idle:
            return f"no progress possible ({self.idle} iterations in a row spent nothing)"
        return ""

    def _iterate(self, sampler: _Minibatches, mutable: list[str], val_ids: list[str], iteration: int) -> str:
        """One iteration. Returns "budget exhausted" when it cannot start, else ""."""
        config = self.config
        before = self.spend.metric_calls
        parent = pareto.PARENT_SELECTION[config.parent_selection](self.candidates, self.rng, config.guard_z)
        component = mutable[self.component_turn % len(mutable)]
        self.component_turn += 1
        batch_ids = sampler.next()
        implicated = config.component_choice == "implicated" and len(mutable) > 1
        if not implicated:
            operator, partner = self._choose_operator(parent, component)
        # Calls: the parent's unscored minibatch + the child's minibatch + the child's validation (or,
        # when deferred, the validation of the newest candidate that ends a search), exactly.
        if not self.budget.affords(
            self.new_calls(parent.components, batch_ids) + len(batch_ids) + len(val_ids),
            reflections=1,
        ):
            return "budget exhausted"
        parent_scores = self.evaluate(parent.components, batch_ids, self.train)
        if implicated:  # the component is chosen from the parent's failures, then the operator (same draws)
            component, mentions = self._implicated(mutable, parent_scores, component)
            operator, partner = self._choose_operator(parent, component)
        entry: dict[str, Any] = {
            "iteration": iteration,
            "parent": parent.index,
            "operator": operator,
            "component": component,
            "partner": partner.index if partner else None,
            "minibatch": batch_ids,
            "parent_scores": [e.score for e in parent_scores],
        }
        if implicated:
            entry["implicated"] = mentions
        if (
            operator == "refine"
            and config.skip_perfect_parent
            and all(e.score >= config.perfect_score for e in parent_scores)
        ):
            entry.update(outcome="skipped", reason="parent perfect on the minibatch")
            self.idle = self.idle + 1 if self.spend.metric_calls == before else 0
            self._log(entry)
            return ""
        proposal, notes = self.propose(operator, component, parent, partner, list(zip(batch_ids, parent_scores)))
        entry["notes"] = notes
        if not proposal.ok:
            entry.update(outcome="rejected", reason=proposal.reason)
            self.idle = self.idle + 1 if self.spend.metric_calls == before else 0
            self._log(entry)
            return ""
        child = {**parent.components, component: proposal.text}
        child_scores = self.evaluate(child, batch_ids, self.train)
        parent_sum = sum(e.score for e in parent_scores)
        if operator == "refine" and len(mutable) > 1:
            child, child_scores, chain = self._refine_on(
                mutable, component, child, child_scores, batch_ids, val_ids, parent_sum
            )
            if chain:
                entry["chain"] = chain
        child_sum = sum(e.score for e in child_scores)
        entry.update(
            child_scores=[e.score for e in child_scores],
            child_hash=candidate_hash(child),
            child_tokens=candidate_tokens(child),
        )
        if operator == "simplify":
            accepted = child_sum >= parent_sum and candidate_tokens(child) < candidate_tokens(parent.components)
        else:
            accepted = child_sum > parent_sum
        self.idle = 0
        if not accepted:
            entry.update(outcome="rejected", reason=f"minibatch {child_sum:g} vs parent {parent_sum:g}")
            self._log(entry)
            return ""
        parents = [parent.index] + ([partner.index] if partner and operator == "combine" else [])
        validation = {"mode": "full"}
        deferred_in_a_row = next((n for n, c in enumerate(reversed(self.candidates)) if c.val_scores), 0)
        if deferred_in_a_row + 1 < config.validate_every:
            validation = {"mode": "deferred"}
        elif config.validation == "race":
            # An unvalidated parent (validation deferred) has no scores to race against: the best's.
            rival = parent if parent.val_scores else pareto.best_candidate(self.candidates)
            validation = self._race(child, rival, val_ids)
            if validation["mode"] == "raced out":
                entry.update(outcome="rejected", reason=validation["reason"], validation=validation)
                self._log(entry)
                return ""
        record = self._add(
            child,
            parents,
            operator,
            iteration,
            {"ids": batch_ids, "parent": entry["parent_scores"], "child": entry["child_scores"]},
            validation,
        )
        entry.update(
            outcome="accepted", candidate=record.index, val_mean=round(record.val_mean, 4), validation=validation
        )
        self._log(entry)
        return ""


def _validation_of(entry: dict[str, Any]) -> dict[str, Any] | None:
    """How an iteration's child was validated; None when no child got that far. An accepted child in
    a log written before validation modes existed was validated in full."""
    if entry.get("validation"):
        return entry["validation"]
    return {"mode": "full"} if entry.get("outcome") == "accepted" else None


def validation_summary(iterations: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """How the children that passed their gate were validated, from the iteration log: counts per
    mode ("full", "deferred", "raced" to the end, "raced out") and where races stopped ({"k/V": n})."""
    modes: dict[str, int] = {}
    stopped: dict[str, int] = {}
    for entry in iterations:
        validation = _validation_of(entry)
        if not validation:
            continue
        modes[validation["mode"]] = modes.get(validation["mode"], 0) + 1
        if validation["mode"] == "raced out":
            where = f"{validation['scored']}/{validation['of']}"
            stopped[where] = stopped.get(where, 0) + 1
    return {"children": modes, "raced_out_at": dict(sorted(stopped.items()))}


def describe_validation(entry: dict[str, Any]) -> str:
    """One iteration's validation in a few words: "full", "deferred", "raced 50/50", "raced out 20/50", or ""."""
    validation = _validation_of(entry)
    if not validation:
        return ""
    if validation["mode"] == "raced out":
        return f"raced out {validation['scored']}/{validation['of']}"
    if validation["mode"] == "raced":
        return f"raced {validation['of']}/{validation['of']}"
    return validation["mode"]


# Settings added after stores were first written, with the value that reproduces how those searched
# (gepa's choices): a store without them resumes when the config asks for exactly that.
SETTINGS_ADDED_LATER = {
    "parent_selection": "pareto",
    "guard_z": 2.0,
    "validation": "full",
    "race_chunk": 10,
    "race_z": 2.0,
    "validate_every": 1,
    "component_budgets": {},
    "component_descriptions": {},
    "component_choice": "round-robin",
    "component_cues": {},
}

# Settings that may change between a run and its resume: they do not change the trajectory's prefix.
_RESUMABLE = {"max_metric_calls", "max_cost_usd", "max_iterations", "workers", "max_cost_per_reflection"}


def _claim_store(store, seed_candidate, evaluator, trainset, valset, lm, config, objective, background) -> None:
    """A store holds one search. Resuming it with another seed, data, evaluator, model or setting would
    splice two trajectories; refuse that (raise ValueError) instead of silently mixing them."""
    from dataclasses import asdict

    identity = {
        "seed_candidate": candidate_hash(dict(seed_candidate)),
        "evaluator": evaluator.identity,
        "reflection_lm": lm.identity,
        "train": [evaluator.example_id(e) for e in trainset],
        "val": [evaluator.example_id(e) for e in valset],
        "config": {k: v for k, v in asdict(config).items() if k not in _RESUMABLE},
        "objective": objective,
        "background": background,
    }
    identity = json.loads(json.dumps(identity, default=list))
    recorded = store.get_meta("search")
    if recorded is None:
        store.set_meta("search", identity)
        return
    if isinstance(recorded.get("config"), dict):  # a store from before a setting existed searched as it says
        recorded["config"] = {**SETTINGS_ADDED_LATER, **recorded["config"]}
    changed = sorted(k for k in identity if recorded.get(k) != identity[k])
    if changed:
        raise ValueError(f"the run store holds another search (different {', '.join(changed)}); start a new run folder")


def optimize(
    seed_candidate: Candidate,
    evaluator: Evaluator,
    trainset: Sequence[Any],
    valset: Sequence[Any],
    *,
    reflection_lm: ReflectionLM,
    store: RunStore,
    config: EngineConfig | None = None,
    objective: str = "",
    background: str = "",
    on_event: Callable[[str, dict[str, Any]], None] | None = None,
) -> Result:
    """Evolve `seed_candidate` to maximise the evaluator's mean score on `valset`.

    Resuming = calling again with the same store, seed candidate, sets and config: the trajectory
    replays from the store (no call is paid twice) and continues where it stopped.
    """
    config = config or EngineConfig()
    _claim_store(store, seed_candidate, evaluator, trainset, valset, reflection_lm, config, objective, background)
    engine = Engine(evaluator, reflection_lm, trainset, valset, store, config, objective, background, on_event)
    return engine.run(dict(seed_candidate))
