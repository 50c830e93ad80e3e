"""Codex CLI, headless (`codex exec --json`), its model provider pointed at the gateway's Responses API.

Skill modes: `skill` (Agent Skills folder in the per-rollout CODEX_HOME), `repo-skill`
(`.agents/skills/<name>/SKILL.md` in the repo, excluded from the patch), `agents-md` (the user-level
`$CODEX_HOME/AGENTS.md`, which Codex puts in every prompt).

Surfaces (`gskill learn --surfaces`): `agents-md` → `$CODEX_HOME/AGENTS.md` (after the skill in
`agents-md` mode); `system-prompt` → `-c developer_instructions=...` (Codex's config key for a developer
message after its own base instructions, which it keeps; `model_instructions_file` would replace them).
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

DEVELOPER_INSTRUCTIONS = "-c developer_instructions"

CONFIG = """\
model = "{model}"
model_provider = "gskill"
approval_policy = "never"
sandbox_mode = "danger-full-access"
web_search = "disabled"
check_for_update_on_startup = false

[skills.bundled]
enabled = false

[model_providers.gskill]
name = "gskill gateway"
base_url = "{base_url}/v1"
env_key = "GSKILL_GATEWAY_TOKEN"
wire_api = "responses"
"""


class CodexAgent(ContainerAgent):
    name = "codex"
    wire = "responses"
    home = "/var/lib/gskill/codex-home"  # not under /tmp: Codex refuses to put helpers there
    surface_places = {
        "agents-md": SurfacePlace(file="{home}/AGENTS.md"),
        "system-prompt": SurfacePlace(flag=DEVELOPER_INSTRUCTIONS),
    }

    def prepare(self, box, request: RunRequest) -> tuple[str, ...]:
        write_text(
            box,
            f"{self.home}/config.toml",
            CONFIG.format(model=request.model_label, base_url=request.base_url.rstrip("/")),
        )
        if not request.skill.strip():
            return ()
        if request.skill_mode == "skill":
            write_text(box, f"{self.home}/skills/{SKILL_NAME}/SKILL.md", skill_document(request.skill))
        elif request.skill_mode == "repo-skill":
            write_text(box, f"/repo/.agents/skills/{SKILL_NAME}/SKILL.md", skill_document(request.skill))
            return (".agents",)
        else:
            write_text(box, f"{self.home}/AGENTS.md", request.skill.strip() + "\n")
        return ()

    def command(self, request: RunRequest) -> tuple[str, dict[str, str]]:
        argv = [
            self.binary,
            "exec",
            "--json",
            "--strict-config",
            "--skip-git-repo-check",
            "--dangerously-bypass-approvals-and-sandbox",
            "-C",
            "/repo",
        ]
        if developer := self.flag_text(request, DEVELOPER_INSTRUCTIONS):  # a TOML string (JSON's escapes are TOML's)
            argv += ["-c", f"developer_instructions={json.dumps(developer, ensure_ascii=False)}"]
        argv.append(request.problem_statement)
        env = {
            "CODEX_HOME": self.home,
            "GSKILL_GATEWAY_TOKEN": request.token,
            "HOME": "/tmp/gskill-home",
            "NO_COLOR": "1",
        }
        return " ".join(shlex.quote(part) for part in argv), env

    def collect(self, box, trace_path) -> None:
        # Codex's own session transcript: $CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl
        found = box.exec(f"cat $(find {self.home}/sessions -name '*.jsonl' 2>/dev/null | sort) 2>/dev/null", timeout=60)
        if found.ok and found.output.strip():
            trace_path.with_suffix(".session.jsonl").write_text(found.output)

    def parse(self, output: str) -> AgentOutcome:
        events = json_events(output)
        kinds = [event.get("type", "") for event in events]
        steps = sum(
            1
            for event in events
            if event.get("type") == "item.completed" and event.get("item", {}).get("type") == "command_execution"
        )
        errors = [
            event.get("message") or event.get("error", {}).get("message", "")
            for event in events
            if event.get("type") in ("error", "turn.failed")
        ]
        reported: dict = {}
        for event in events:
            if event.get("type") == "turn.completed":
                for key, value in (event.get("usage") or {}).items():
                    if isinstance(value, (int, float)):
                        reported[key] = reported.get(key, 0) + value
        if "turn.completed" in kinds and not errors:
            return AgentOutcome("Submitted", steps=steps, messages=events, reported=reported)
        return AgentOutcome(
            "AgentError" if errors or kinds else "",
            steps=steps,
            error="; ".join(str(e) for e in errors)[:2000],
            messages=events,
            reported=reported,
        )
