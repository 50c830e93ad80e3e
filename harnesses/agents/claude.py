"""Claude Code, headless (`claude -p --output-format stream-json --verbose`), ANTHROPIC_BASE_URL at the gateway.

Skill modes: `skill` (Agent Skills folder in the per-rollout CLAUDE_CONFIG_DIR), `repo-skill`
(`.claude/skills/<name>/SKILL.md`, excluded from the patch), `claude-md` (the user-level CLAUDE.md),
`system-prompt` (`--append-system-prompt`).

Surfaces (`gskill learn --surfaces`): `agents-md` → the user-level CLAUDE.md (after the skill in
`claude-md` mode); `system-prompt` → `--append-system-prompt` (joined with the skill in `system-prompt` mode).
"""

from __future__ import annotations

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

APPEND_SYSTEM_PROMPT = "--append-system-prompt"


class ClaudeAgent(ContainerAgent):
    name = "claude"
    wire = "messages"
    home = "/var/lib/gskill/claude-home"
    surface_places = {
        "agents-md": SurfacePlace(file="{home}/CLAUDE.md"),
        "system-prompt": SurfacePlace(flag=APPEND_SYSTEM_PROMPT),
    }

    def prepare(self, box, request: RunRequest) -> tuple[str, ...]:
        box.exec(f"mkdir -p {self.home}", timeout=30)
        if not request.skill.strip():
            return ()
        if request.skill_mode == "skill":
            write_text(box, f"{self.home}/skills/{SKILL_NAME}/SKILL.md", skill_document(request.skill))
        elif request.skill_mode == "repo-skill":
            write_text(box, f"/repo/.claude/skills/{SKILL_NAME}/SKILL.md", skill_document(request.skill))
            return (".claude",)
        elif request.skill_mode == "claude-md":
            write_text(box, f"{self.home}/CLAUDE.md", request.skill.strip() + "\n")
        return ()

    def command(self, request: RunRequest) -> tuple[str, dict[str, str]]:
        argv = [
            self.binary,
            "-p",
            request.problem_statement,
            "--output-format",
            "stream-json",
            "--verbose",
            "--max-turns",
            str(request.step_limit),
            "--dangerously-skip-permissions",
            "--model",
            request.model_label,
        ]
        appended = [request.skill.strip()] if request.skill.strip() and request.skill_mode == "system-prompt" else []
        appended += [text] if (text := self.flag_text(request, APPEND_SYSTEM_PROMPT)) else []
        if appended:
            argv += [APPEND_SYSTEM_PROMPT, "\n\n".join(appended)]
        env = {
            "ANTHROPIC_BASE_URL": request.base_url.rstrip("/"),
            "ANTHROPIC_API_KEY": request.token,
            "CLAUDE_CONFIG_DIR": self.home,
            "HOME": "/tmp/gskill-home",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "IS_SANDBOX": "1",  # root in a throwaway container: allow skipping permissions
        }
        return " ".join(shlex.quote(part) for part in argv), env

    def parse(self, output: str) -> AgentOutcome:
        events = json_events(output)
        result = next((event for event in reversed(events) if event.get("type") == "result"), None)
        if result is None:
            return AgentOutcome("", messages=events)
        turns = int(result.get("num_turns") or 0)
        subtype = result.get("subtype", "")
        usage = result.get("usage") or {}
        reported = {
            "num_turns": turns,
            "duration_ms": result.get("duration_ms"),
            "duration_api_ms": result.get("duration_api_ms"),
            "total_cost_usd": result.get("total_cost_usd"),
            **{
                key: usage[key]
                for key in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
                if key in usage
            },
        }
        if subtype == "success" and not result.get("is_error"):
            return AgentOutcome("Submitted", steps=turns, messages=events, reported=reported)
        if subtype == "error_max_turns":
            return AgentOutcome("LimitsExceeded", steps=turns, messages=events, error=subtype, reported=reported)
        return AgentOutcome(
            "AgentError",
            steps=turns,
            messages=events,
            error=f"{subtype}: {str(result.get('result', ''))[:500]}",
            reported=reported,
        )
