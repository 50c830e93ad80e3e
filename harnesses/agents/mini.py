"""mini-SWE-agent (the agent the paper used), on the host, acting in our task container.

The real `minisweagent` package runs its own loop (`DefaultAgent`) with two adapters of ours:
- `SandboxEnvironment`: its Environment protocol over our Sandbox (labelled container, per-command
  timeout that kills the whole process tree, submission detection as in its LocalEnvironment);
- `GatewayModel`: its LitellmModel pointed at our gateway (`openai/` wire format, the rollout's
  token as the API key). The gateway picks the real model, counts tokens and cost, and holds keys.
The skill goes into the system prompt through `SKILL_TEMPLATE`; so do the `agents-md` and
`system-prompt` surfaces (`gskill learn --surfaces`), each in a tag naming it, after the skill.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from harnesses.agents import AGENTS
from harnesses.agents.base import AgentOutcome, SurfacePlace, surface_texts
from harnesses.sandbox import Sandbox
from harnesses.taskenv import is_infra_failure

# Before minisweagent is imported: no banner, and its global config (which may load a user's .env
# of keys into this process) lives in a directory of ours.
os.environ.setdefault("MSWEA_SILENT_STARTUP", "1")

SKILL_TEMPLATE = """

<repository_skill>
The maintainers of this repository wrote down what an engineer should know to fix bugs here.
Use it.

{skill}
</repository_skill>
"""


class SandboxEnvironment:
    """mini-swe-agent's Environment protocol over a gskill Sandbox."""

    def __init__(self, sandbox: Sandbox, *, timeout: float, cwd: str = "/repo", env: dict | None = None) -> None:
        self.sandbox = sandbox
        self.timeout = timeout
        self.env = dict(env or {})  # mini's defaults: PAGER=cat etc., so nothing waits for a terminal
        self.config = {"cwd": cwd, "timeout": timeout, "env": self.env}

    def execute(self, action: dict, cwd: str = "", *, timeout: int | None = None) -> dict[str, Any]:
        from minisweagent.exceptions import Submitted

        command = action.get("command", "")
        result = self.sandbox.exec(command, timeout=timeout or self.timeout, env=self.env)
        output: dict[str, Any] = {"output": result.output, "returncode": result.exit_code, "exception_info": ""}
        if result.timed_out:
            output["exception_info"] = f"The command timed out after {timeout or self.timeout:g} s and was killed."
        lines = result.output.lstrip().splitlines(keepends=True)
        if lines and lines[0].strip() == "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT" and result.exit_code == 0:
            submission = "".join(lines[1:])
            raise Submitted(
                {"role": "exit", "content": submission, "extra": {"exit_status": "Submitted", "submission": submission}}
            )
        return output

    def get_template_vars(self, **kwargs) -> dict[str, Any]:
        # The template's <system_information> block: the container's, not the host's.
        return {
            "system": "Linux",
            "release": "",
            "version": "",
            "machine": "x86_64",
            "cwd": self.config["cwd"],
            **kwargs,
        }

    def serialize(self) -> dict:
        return {"info": {"config": {"environment": self.config, "environment_type": "gskill.SandboxEnvironment"}}}


def agent_config(
    skill: str,
    *,
    step_limit: int,
    cost_limit: float,
    wall_time_limit_s: float,
    skill_template: str = "",
    instructions: str = "",
) -> dict:
    """mini-swe-agent's own tool-calling config (mini.yaml), with the skill in the system prompt, then
    `instructions` (the request's surfaces, marked)."""
    import minisweagent

    config = yaml.safe_load((Path(minisweagent.__file__).parent / "config" / "mini.yaml").read_text())
    agent = dict(config["agent"])
    if skill.strip():
        # Jinja renders the template: the skill's own braces must stay literal.
        section = (skill_template or SKILL_TEMPLATE).replace("{skill}", skill.strip())
        agent["system_template"] += "{% raw %}" + section + "{% endraw %}"
    if instructions.strip():
        agent["system_template"] += "{% raw %}\n\n" + instructions.strip() + "\n{% endraw %}"
    agent.update(step_limit=step_limit, cost_limit=cost_limit, wall_time_limit_seconds=int(wall_time_limit_s))
    return {"agent": agent, "model": config.get("model", {}), "environment": config.get("environment", {})}


def run_mini(
    sandbox: Sandbox,
    *,
    problem_statement: str,
    skill: str,
    base_url: str,
    token: str,
    model_label: str,
    step_limit: int,
    cost_limit: float,
    wall_time_limit_s: float,
    command_timeout_s: float,
    skill_template: str = "",
    instructions: str = "",
) -> AgentOutcome:
    import litellm
    from minisweagent.agents.default import DefaultAgent
    from minisweagent.models.litellm_model import LitellmModel

    class GatewayModel(LitellmModel):
        # The gateway answers 429 only when a rollout cap is reached (provider errors are 502s):
        # stop, do not back off and retry for minutes.
        abort_exceptions = [*LitellmModel.abort_exceptions, litellm.exceptions.RateLimitError]

    config = agent_config(
        skill,
        step_limit=step_limit,
        cost_limit=cost_limit,
        wall_time_limit_s=wall_time_limit_s,
        skill_template=skill_template,
        instructions=instructions,
    )
    model_config = {key: value for key, value in config["model"].items() if key != "model_kwargs"}
    model_kwargs = {
        **config["model"].get("model_kwargs", {}),
        "api_base": base_url.rstrip("/") + "/v1",
        "api_key": token,
    }
    # The gateway counts cost (litellm does not know the gateway's model names): no cost errors here.
    model = GatewayModel(
        model_name=f"openai/{model_label}", model_kwargs=model_kwargs, cost_tracking="ignore_errors", **model_config
    )
    env = SandboxEnvironment(sandbox, timeout=command_timeout_s, env=config["environment"].get("env", {}))
    agent = DefaultAgent(model, env, **config["agent"])
    try:
        result = agent.run(problem_statement)
        return AgentOutcome(result.get("exit_status", ""), steps=agent.n_calls, messages=agent.messages)
    except Exception as exc:
        return AgentOutcome(
            type(exc).__name__,
            steps=agent.n_calls,
            messages=agent.messages,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            infra_error=is_infra_failure(exc),
        )


class MiniAgent:
    """The adapter for mini-SWE-agent: runs on the host, acts in the container."""

    name = "mini"
    wire = "chat"
    tool = None
    # Every surface goes into its system prompt (the one place it reads instructions from).
    surface_places = {"agents-md": SurfacePlace(prompt=True), "system-prompt": SurfacePlace(prompt=True)}

    @property
    def skill_modes(self) -> tuple[str, ...]:
        return AGENTS[self.name].skill_modes

    def run(self, box: Sandbox, request) -> "AgentOutcome":
        outcome = run_mini(
            box,
            problem_statement=request.problem_statement,
            skill=request.skill,
            base_url=request.base_url,
            token=request.token,
            model_label=request.model_label,
            step_limit=request.step_limit,
            cost_limit=request.cost_limit,
            wall_time_limit_s=request.wall_time_limit_s,
            command_timeout_s=request.command_timeout_s,
            skill_template=request.skill_template,
            instructions="\n\n".join(surface_texts(request, self.surface_places, self.name).values()),
        )
        if request.trace_path is not None:
            request.trace_path.parent.mkdir(parents=True, exist_ok=True)
            request.trace_path.write_text(
                json.dumps(
                    {"exit_status": outcome.exit_status, "error": outcome.error, "messages": outcome.messages},
                    default=str,
                    indent=1,
                )
            )
        return outcome
