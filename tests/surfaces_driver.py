"""`python -m tests.surfaces_driver ARGS`: the real `gskill` CLI (learn loop, engine, store, reflection through
the gateway's `scripted/reflector`) with each rollout scored by a container-free rule instead of an agent in
Docker — the rule of `scripted/needs-two-facts`:

A task resolves (probability 0.9 — `base` otherwise — drawn per seed and task) only when the candidate's
`skill` names the file its fix changes AND, when the candidate has an `agents-md` surface, that surface names
the test file of its failing test. A candidate without an `agents-md` surface is scored as `needs-skill`
scores (tests/tracking_driver.py). The side information is what `gskill.learn.side_info` reports (failing
tests, the files the reference fix changed) plus the agent's narration of what it missed, as
`needs-two-facts` narrates it ("where to look" / "how to run the tests").
"""

from __future__ import annotations

import random
import sys

from gskill.engine import Evaluation
from gskill.schema import Task, patch_files


class TwoFactsEvaluator:
    """Stands where `gskill.learn.HarnessEvaluator` does (same constructor)."""

    def __init__(self, *, config, scripted=None, **_) -> None:
        self.base = float((scripted or {}).get("base", 0.1))
        self.identity = f"two-facts:{config.model}"
        self.max_cost_per_call = 0.0

    def example_id(self, task: Task) -> str:
        return task.instance_id

    def evaluate(self, candidate: dict, task: Task, seed: int) -> Evaluation:
        source = patch_files(task.patch)[0]
        test_file = task.FAIL_TO_PASS[0].split("::")[0]
        knows_where = source in candidate.get("skill", "")
        knows_tests = "agents-md" not in candidate or test_file in candidate["agents-md"]
        draw = random.Random(f"{seed}:{task.instance_id}").random()
        solved = draw < (0.9 if knows_where and knows_tests else self.base)
        info = {"Outcome": "resolved" if solved else "f2p_failed", "Task": task.problem_statement}
        if not solved:
            missed = [
                text for ok, text in ((knows_where, "where to look"), (knows_tests, "how to run the tests")) if not ok
            ]
            info["Failing tests"] = ", ".join(task.FAIL_TO_PASS)
            info["Files the reference fix changed"] = source
            info["Agent trace"] = f"assistant: Not sure {' or '.join(missed) or 'about this one'}\nassistant: submitted"
        return Evaluation(1.0 if solved else 0.0, info, 0.0)


if __name__ == "__main__":
    import gskill.learn
    from gskill.cli import main

    gskill.learn.HarnessEvaluator = TwoFactsEvaluator
    main(sys.argv[1:])
