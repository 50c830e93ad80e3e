"""Gemini CLI, headless (`gemini -p ... --output-format stream-json --yolo`), run by the mounted Node.js,
its Gemini API calls sent to the gateway (GOOGLE_GEMINI_BASE_URL; the rollout token is GEMINI_API_KEY).

Skill modes: `skill` (Agent Skills folder in the per-rollout GEMINI_CLI_HOME), `repo-skill`
(`.agents/skills/<name>/SKILL.md` in the repo, excluded from the patch), `gemini-md` (the user-level
`GEMINI.md`, which Gemini CLI puts in every prompt), `system-prompt` (GEMINI_SYSTEM_MD: a file that
replaces the built-in system prompt; ours is the built-in one with the skill appended). Surfaces
(`gskill learn --surfaces`): `agents-md` → the user-level `GEMINI.md`; no `system-prompt` place yet.
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
from harnesses.agents.tools import container_binary


def settings(model: str, max_turns: int) -> dict:
    """The user settings: our model, the turn limit, and nothing that wants a network or a person."""
    return {
        "general": {
            "enableAutoUpdate": False,
            "enableAutoUpdateNotification": False,
            "checkpointing": {"enabled": False},
        },
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
        "ide": {"enabled": False},
        "model": {
            "name": model,
            "maxSessionTurns": max_turns,
            "skipNextSpeakerCheck": True,  # both are extra model calls, not the agent's turns
            "disableLoopDetection": True,
        },
        "security": {"folderTrust": {"enabled": False}, "auth": {"selectedType": "gemini-api-key"}},
        # no network in a task container: the web tools could only fail
        "tools": {"shell": {"enableInteractiveShell": False}, "exclude": ["google_web_search", "web_fetch"]},
        "skills": {"disabled": ["skill-creator", "antigravity-support"]},  # built-ins: only our skill is offered
    }


class GeminiAgent(ContainerAgent):
    name = "gemini"
    wire = "gemini"
    home = "/var/lib/gskill/gemini-home"  # GEMINI_CLI_HOME: the CLI keeps its `.gemini` folder in it
    # `gskill learn --surfaces`: AGENTS.md's text goes where Gemini CLI reads user instructions. No
    # system-prompt place: GEMINI_SYSTEM_MD replaces the whole built-in prompt (see `_write_system_prompt`).
    surface_places = {"agents-md": SurfacePlace(file="{home}/.gemini/GEMINI.md")}

    def prepare(self, box, request: RunRequest) -> tuple[str, ...]:
        config = f"{self.home}/.gemini"
        chosen = settings(request.model_label, request.step_limit)
        if request.skill.strip() and request.skill_mode == "system-prompt":
            self._write_system_prompt(box, request, chosen)
        write_text(box, f"{config}/settings.json", json.dumps(chosen))
        if not request.skill.strip():
            return ()
        if request.skill_mode == "skill":
            write_text(box, f"{config}/skills/{SKILL_NAME}/SKILL.md", skill_document(request.skill))
        elif request.skill_mode == "repo-skill":
            write_text(box, f"/repo/.agents/skills/{SKILL_NAME}/SKILL.md", skill_document(request.skill))
            return (".agents",)
        elif request.skill_mode == "gemini-md":
            write_text(box, f"{config}/GEMINI.md", request.skill.strip() + "\n")
        return ()

    def _write_system_prompt(self, box, request: RunRequest, chosen: dict) -> None:
        """GEMINI_SYSTEM_MD replaces the built-in system prompt: ours is the built-in one (which the CLI
        writes out under GEMINI_WRITE_SYSTEM_MD when it starts a session: a run whose one model call
        fails at once, to a closed port) followed by the skill."""
        path = f"{self.home}/.gemini/system.md"
        once = {**chosen, "general": {**chosen["general"], "maxAttempts": 1}}
        write_text(box, f"{self.home}/.gemini/settings.json", json.dumps(once))
        command, env = self.command(RunRequest(**{**vars(request), "skill": "", "problem_statement": "start"}))
        env = {
            **env,
            "GEMINI_WRITE_SYSTEM_MD": path,
            "GOOGLE_GEMINI_BASE_URL": "http://127.0.0.1:9",
            "GEMINI_API_KEY": "none",
        }
        box.exec(f"{command} < /dev/null", timeout=120, env=env)
        found = box.exec(f"cat {path} && rm -rf {self.home}/.gemini/tmp", timeout=30)  # (and that run's session)
        if not (found.ok and found.output.strip()):
            raise RuntimeError(f"gemini: the CLI wrote no system prompt to {path}")
        write_text(box, path, found.output.rstrip() + "\n\n" + request.skill.strip() + "\n")

    def command(self, request: RunRequest) -> tuple[str, dict[str, str]]:
        argv = [
            container_binary(self.tool.runtime),  # node
            self.binary,  # the bundled gemini.js
            "--prompt",
            request.problem_statement,
            "--output-format",
            "stream-json",
            "--yolo",
            "--model",
            request.model_label,
        ]
        env = {
            "GEMINI_CLI_HOME": self.home,
            "HOME": "/tmp/gskill-home",
            "GOOGLE_GEMINI_BASE_URL": request.base_url.rstrip("/"),
            "GEMINI_API_KEY": request.token,
            "GEMINI_CLI_TRUST_WORKSPACE": "true",
            "GEMINI_TELEMETRY_ENABLED": "false",
            "NO_COLOR": "1",
            "CI": "1",
        }
        if request.skill.strip() and request.skill_mode == "system-prompt":
            env["GEMINI_SYSTEM_MD"] = f"{self.home}/.gemini/system.md"
        return "cd /repo && " + " ".join(shlex.quote(part) for part in argv), env

    def collect(self, box, trace_path) -> None:
        # Gemini CLI's own session record: $GEMINI_CLI_HOME/.gemini/tmp/<project>/chats/session-*.jsonl
        found = box.exec(
            f"cat $(find {self.home}/.gemini/tmp -name 'session-*.jsonl' 2>/dev/null | sort) 2>/dev/null", timeout=60
        )
        if found.ok and found.output.strip():
            trace_path.with_suffix(".session.jsonl").write_text(found.output)

    def parse(self, output: str) -> AgentOutcome:
        events = json_events(output)
        result = next((event for event in reversed(events) if event.get("type") == "result"), None)
        if result is None:
            return AgentOutcome("", messages=events)
        stats = result.get("stats") or {}
        reported = {
            key: stats[key]
            for key in ("input_tokens", "output_tokens", "total_tokens", "cached", "tool_calls", "duration_ms")
            if isinstance(stats.get(key), (int, float))
        }
        steps = sum(1 for event in events if event.get("type") == "tool_use")
        if result.get("status") == "success":
            return AgentOutcome("Submitted", steps=steps, messages=events, reported=reported)
        error = result.get("error") or {}
        status = "LimitsExceeded" if error.get("type") == "FatalTurnLimitedError" else "AgentError"
        return AgentOutcome(
            status,
            steps=steps,
            messages=events,
            error=f"{error.get('type', '')}: {str(error.get('message', ''))[:500]}",
            reported=reported,
        )
