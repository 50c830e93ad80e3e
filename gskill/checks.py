"""Input checks shared by the commands that run agents (eval, learn, transfer, refresh, mine).

Each raises a one-line `GskillError` and runs before any container starts: a bad agent, skill mode,
model or skill file found only at the first rollout would cost retries with back-off per task.
"""

from __future__ import annotations

from pathlib import Path

from gskill.errors import GskillError
from gskill.schema import Settings

DEFAULT_TOKEN_BUDGET = 2000  # a skill's tokens (tiktoken); learn's --token-budget default


def check_skill_mode(agent: str, mode: str, flag: str = "--skill-mode") -> None:
    """`mode` ("" = the agent's default) must be one the agent implements (the registry; an unknown
    agent is one line too)."""
    from harnesses.agents import agent_spec

    modes = agent_spec(agent).skill_modes
    if mode and mode not in modes:
        raise GskillError(f"{flag} {mode!r} is not one of {agent}'s: {', '.join(modes)}")


def check_models(*models: tuple[str, str], endpoints: dict | None = None) -> None:
    """(flag, model) pairs: litellm must know each model's provider and the provider's key variables
    must be set (names only are ever printed), unless the model is scripted/ or served at its own
    api_base (`endpoints`: model name → `ModelEndpoint`)."""
    from harnesses.gateway.models import model_problem

    for flag, model in dict.fromkeys(models):
        problem = model_problem(model, (endpoints or {}).get(model))
        if problem:
            raise GskillError(f"{flag}: {problem}")


def read_skill(path: Path, token_budget: int = DEFAULT_TOKEN_BUDGET, flag: str = "--skill") -> str:
    """A skill file's text, within the token budget (each rollout's prompt carries all of it)."""
    from gskill.tokens import count_tokens

    if not path.is_file():
        raise GskillError(f"no skill file {path}")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise GskillError(f"{flag} {path} is not readable text: {exc}") from None
    tokens = count_tokens(text)
    if tokens > token_budget:
        raise GskillError(f"{flag} {path} has {tokens} tokens, over --token-budget {token_budget}")
    return text


def require_docker(hint: str = ""):
    """A Docker client, or the one-line error saying why there is none."""
    from harnesses.sandbox import SandboxError, docker_client

    try:
        return docker_client()
    except SandboxError as exc:
        raise GskillError(f"{exc}{hint}") from None


# The model a user with only one provider key gets by default (the paper's agent model, and a peer).
DEFAULT_MODELS = (("OPENAI_API_KEY", "openai/gpt-5-mini"), ("ANTHROPIC_API_KEY", "anthropic/claude-haiku-4-5"))


def default_model(given: str | None, flag: str) -> str:
    import os

    if given:
        return given
    for variable, model in DEFAULT_MODELS:
        if os.environ.get(variable):
            return model
    raise GskillError(
        f"no model: set OPENAI_API_KEY or ANTHROPIC_API_KEY (or give {flag} with any litellm model, "
        "e.g. openai/gpt-5-mini, or scripted/needs-skill to try the pipeline without a model)"
    )


def executor_options(
    settings: Settings,
    executor: str,
    ray_address: str | None,
    per_node: int,
    workers: int,
    rate_limits: list[str],
    command: str,
):
    """Where rollouts run, checked: a bad --executor or --rate-limit is one line, Ray missing says what to install."""
    from harnesses.executor import ExecutorOptions
    from harnesses.gateway.limits import parse_rate_limit

    if executor not in ("local", "ray"):
        raise GskillError(f"--executor must be local or ray, not {executor!r}")
    try:
        limits = [*settings.rate_limits, *(parse_rate_limit(text) for text in rate_limits)]
    except ValueError as exc:
        raise GskillError(f"--rate-limit: {exc}") from None
    if executor == "ray":
        from harnesses.ray_executor import import_ray

        import_ray()  # says what to install when Ray is missing
    else:
        require_docker(f"; {command} runs every rollout in a container")
    return ExecutorOptions(executor, workers, ray_address, per_node, limits)  # type: ignore[arg-type]


def scripted_params(items: list[str]) -> dict:
    """`--scripted KEY=VALUE` pairs for scripted/ models (numbers become floats)."""
    params: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise GskillError(f"--scripted takes KEY=VALUE, not {item!r}")
        try:
            params[key] = float(value)
        except ValueError:
            params[key] = value
    return params
