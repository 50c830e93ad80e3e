"""OpenCode, headless (`opencode run --format json --auto`, the task on stdin), a custom OpenAI-compatible
provider at the gateway's Chat Completions endpoint.

Its per-rollout config folder is `$XDG_CONFIG_HOME/opencode` (`opencode.json`, `AGENTS.md`, `skills/`: the
places OpenCode reads a user's own config from); HOME and the XDG data, cache and state folders are
throwaway paths under /tmp. The binary starts offline: the models.dev catalogue is not fetched (its
bundled snapshot is used), no LSP server or formatter is downloaded or started, no plugin is installed,
autoupdate and sharing are off, and only the `gskill` provider is enabled (no other provider's key is
ever looked up). The run is non-interactive: `--auto` approves what is not denied (web fetches and
OpenCode's built-in "customize-opencode" skill are denied), `--title` skips the title-generation call.

Skill modes (each checked to reach the model's first request, tests/test_opencode.py):
`skill` (Agent Skills folder `skills/<name>/SKILL.md` in the config folder; listed in the system
prompt, its body loaded by the `skill` tool), `repo-skill` (`/repo/.opencode/skills/<name>/SKILL.md`,
excluded from the patch), `agents-md` (the user-level `AGENTS.md` in the config folder, in the system
prompt every turn), `system-prompt` (a file named in the config's `instructions`, appended to the
system prompt after OpenCode's own prompt; the agent `prompt` key would REPLACE OpenCode's prompt, so it
is not used). Surfaces (`gskill learn --surfaces`): `agents-md` → that user-level `AGENTS.md`,
`system-prompt` → that `instructions` file.

Step limit: the build agent's `steps` = the step limit. At that step OpenCode asks the model for a
final text answer (a soft limit: a model that calls tools anyway gets them run); the gateway's call cap
and the wall-time limit are the hard stops (past the cap OpenCode retries the gateway's 429 five times,
about a minute in all, then ends with an error event). A rollout that used all its steps is `LimitsExceeded`.
"""

from __future__ import annotations

import json
import shlex

from harnesses.agents.base import (
    json_events,
    SKILL_NAME,
    AgentOutcome,
    ContainerAgent,
    RunRequest,
    SurfacePlace,
    skill_document,
    write_text,
)

# OpenCode's own skill about editing OpenCode's config: not ours to offer in a task.
BUILTIN_SKILLS = ("customize-opencode",)

# Environment that keeps OpenCode offline and quiet (each name checked against the pinned binary).
OFFLINE_ENV = {
    "OPENCODE_DISABLE_AUTOUPDATE": "1",
    # Else it GETs models.opencode.ai/api.json at startup (offline: an error logged, then the bundled snapshot).
    "OPENCODE_DISABLE_MODELS_FETCH": "1",
    "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
    "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
    "OPENCODE_DISABLE_SHARE": "1",
    # No ~/.claude, CLAUDE.md or .claude/skills: OpenCode reads only what its own modes put there.
    "OPENCODE_DISABLE_CLAUDE_CODE": "1",
}


def config(*, model: str, base_url: str, steps: int, instructions: list[str]) -> dict:
    """The per-rollout `opencode.json`."""
    return {
        "$schema": "https://opencode.ai/config.json",
        "model": f"gskill/{model}",
        "small_model": f"gskill/{model}",
        "enabled_providers": ["gskill"],
        "autoupdate": False,
        "share": "disabled",
        "snapshot": False,  # no shadow git copy of the repo per step (undo is never used)
        "lsp": False,
        "formatter": False,
        "instructions": instructions,
        "permission": {"webfetch": "deny", "skill": {"*": "allow", **{name: "deny" for name in BUILTIN_SKILLS}}},
        "agent": {"build": {"steps": steps}} if steps > 0 else {},
        "provider": {
            "gskill": {
                "npm": "@ai-sdk/openai-compatible",  # bundled in the binary: nothing is installed
                "name": "gskill gateway",
                "options": {"baseURL": f"{base_url}/v1", "apiKey": "{env:GSKILL_GATEWAY_TOKEN}"},
                "models": {model: {"name": model}},
            }
        },
    }


class OpenCodeAgent(ContainerAgent):
    name = "opencode"
    wire = "chat"
    home = "/var/lib/gskill/opencode-home"  # XDG_CONFIG_HOME: OpenCode's config folder is {home}/opencode
    # Where `gskill learn --surfaces` texts go: the same places as the skill modes of those names.
    surface_places = {
        "agents-md": SurfacePlace(file="{home}/opencode/AGENTS.md"),
        "system-prompt": SurfacePlace(file="{home}/system-prompt.md"),
    }

    @property
    def config_dir(self) -> str:
        return f"{self.home}/opencode"

    @property
    def prompt_file(self) -> str:
        return f"{self.home}/prompt.md"

    def prepare(self, box, request: RunRequest) -> tuple[str, ...]:
        skill, injected, instructions = request.skill.strip(), (), []
        if skill and request.skill_mode == "skill":
            write_text(box, f"{self.config_dir}/skills/{SKILL_NAME}/SKILL.md", skill_document(skill))
        elif skill and request.skill_mode == "repo-skill":
            write_text(box, f"/repo/.opencode/skills/{SKILL_NAME}/SKILL.md", skill_document(skill))
            injected = (".opencode",)
        elif skill and request.skill_mode == "agents-md":
            write_text(box, f"{self.config_dir}/AGENTS.md", skill + "\n")
        elif skill and request.skill_mode == "system-prompt":
            write_text(box, f"{self.home}/system-prompt.md", skill + "\n")
        if (skill and request.skill_mode == "system-prompt") or request.surfaces.get("system-prompt", "").strip():
            instructions = [f"{self.home}/system-prompt.md"]  # written now (skill) or after prepare (surface)
        settings = config(
            model=request.model_label,
            base_url=request.base_url.rstrip("/"),
            steps=request.step_limit,
            instructions=instructions,
        )
        write_text(box, f"{self.config_dir}/opencode.json", json.dumps(settings, indent=2) + "\n")
        write_text(box, self.prompt_file, request.problem_statement)
        return injected

    def command(self, request: RunRequest) -> tuple[str, dict[str, str]]:
        argv = [
            self.binary,
            "run",
            "--format",
            "json",
            "--auto",
            "--title",
            "gskill rollout",
            "--model",
            f"gskill/{request.model_label}",
        ]
        env = {
            "GSKILL_GATEWAY_TOKEN": request.token,
            "HOME": "/tmp/gskill-home",
            "XDG_CONFIG_HOME": self.home,
            "XDG_DATA_HOME": "/tmp/gskill-home/data",
            "XDG_CACHE_HOME": "/tmp/gskill-home/cache",
            "XDG_STATE_HOME": "/tmp/gskill-home/state",
            "NO_COLOR": "1",
            # Its bash tool's default timeout (the model may still pass its own `timeout`).
            "OPENCODE_EXPERIMENTAL_BASH_DEFAULT_TIMEOUT_MS": str(max(1, round(request.command_timeout_s * 1000))),
            **OFFLINE_ENV,
        }
        # The task goes in on stdin, verbatim: `opencode run` re-quotes a message argument that has a
        # space in it (and escapes its quotes). In braces, so that the runner's `< /dev/null` is the
        # group's stdin, not OpenCode's.
        run = " ".join(shlex.quote(part) for part in argv)
        return f"{{ {run} < {shlex.quote(self.prompt_file)}; }}", env

    def run(self, box, request: RunRequest) -> AgentOutcome:
        outcome = super().run(box, request)
        # OpenCode's last allowed step asks for a text answer and ends the run normally.
        if outcome.exit_status == "Submitted" and request.step_limit and outcome.steps >= request.step_limit:
            outcome.exit_status, outcome.error = "LimitsExceeded", f"used all {request.step_limit} steps"
        return outcome

    def parse(self, output: str) -> AgentOutcome:
        events = json_events(output)
        finished = [event.get("part") or {} for event in events if event.get("type") == "step_finish"]
        steps = len(finished)
        reported: dict = {"steps": steps} if events else {}
        for part in finished:
            tokens = part.get("tokens") or {}
            cache = tokens.get("cache") or {}
            for key, value in (
                ("input_tokens", tokens.get("input")),
                ("output_tokens", tokens.get("output")),
                ("reasoning_tokens", tokens.get("reasoning")),
                ("cache_read_tokens", cache.get("read")),
                ("cache_write_tokens", cache.get("write")),
                ("cost_usd", part.get("cost")),
            ):
                if isinstance(value, (int, float)):
                    reported[key] = reported.get(key, 0) + value
        errors = [_error_text(event.get("error")) for event in events if event.get("type") == "error"]
        if finished and not errors:
            return AgentOutcome("Submitted", steps=steps, messages=events, reported=reported)
        return AgentOutcome(
            "AgentError" if events else "",
            steps=steps,
            error="; ".join(errors)[:2000],
            messages=events,
            reported=reported,
        )


def _error_text(error) -> str:
    if not isinstance(error, dict):
        return str(error or "error")
    data = error.get("data") or {}
    message = data.get("message") if isinstance(data, dict) else None
    return f"{error.get('name', 'Error')}: {message}" if message else str(error.get("name") or error)
