"""Scripted models: deterministic policies behind litellm's custom-provider interface.

`scripted/<name>` routes to `POLICIES[name]`, a function of the request (messages, tools, metadata)
returning text and/or tool calls. Usage is counted with litellm's tokenizer, so token budgets and
reports work as with a real model. Scripted answers say NOTHING about real models: they make every
LLM path of gskill run, deterministically, where no model is reachable.

Mining policies:
- `bug-rewriter`: given a function in a ```python block, returns it with one deterministic change
  (the `attempt`-th comparison flipped, condition negated or constant shifted) — a stand-in for an
  LLM asked to reintroduce a plausible bug.
- `issue-writer`: restates the evidence in its prompt as an issue (title + observed behaviour), so
  tests can check exactly what a real issue writer would be shown.
"""

from __future__ import annotations

import ast
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable

from litellm import CustomLLM
from litellm.types.utils import ModelResponse


@dataclass
class ScriptedRequest:
    model: str  # the name after "scripted/"
    messages: list[dict]
    tools: list[dict] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)

    @property
    def last_user_text(self) -> str:
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return content_text(message.get("content"))
        return ""


@dataclass
class ScriptedReply:
    content: str = ""
    tool_calls: list[dict] = field(default_factory=list)  # [{"name": ..., "arguments": {...}}]


Policy = Callable[[ScriptedRequest], ScriptedReply]
POLICIES: dict[str, Policy] = {}


def policy(name: str) -> Callable[[Policy], Policy]:
    def register(function: Policy) -> Policy:
        POLICIES[name] = function
        return function

    return register


def content_text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
        return "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


class UnknownScriptedModel(ValueError):
    pass


_throttled: dict[tuple, int] = {}
_throttle_lock = threading.Lock()


def _refuse_if_throttled(model: str, metadata: dict) -> None:
    """`--scripted throttle=N`: the provider answers 429 (Retry-After 1 s) to the first N calls of
    each rollout, as a real provider does when its rate limit is hit: tests of the back-off use it."""
    limit = int(metadata.get("throttle") or 0)
    if not limit:
        return
    key = (metadata.get("instance_id"), metadata.get("seed"), metadata.get("attempt"))
    with _throttle_lock:
        refused = _throttled.get(key, 0)
        if refused >= limit:
            return
        _throttled[key] = refused + 1
    import httpx
    import litellm

    response = httpx.Response(
        429, headers={"retry-after": "1"}, request=httpx.Request("POST", "http://scripted.invalid")
    )
    raise litellm.RateLimitError(
        "scripted provider: rate limit reached", llm_provider="scripted", model=model, response=response
    )


class ScriptedProvider(CustomLLM):
    def completion(
        self,
        model,
        messages,
        api_base,
        custom_prompt_dict,
        model_response: ModelResponse,
        print_verbose,
        encoding,
        api_key,
        logging_obj,
        optional_params,
        acompletion=None,
        litellm_params=None,
        logger_fn=None,
        headers={},
        timeout=None,
        client=None,
    ) -> ModelResponse:
        import json

        import litellm

        name = model.removeprefix("scripted/")
        if name not in POLICIES:
            raise UnknownScriptedModel(f"no scripted model {name!r}; known: {', '.join(sorted(POLICIES))}")
        metadata = (litellm_params or {}).get("metadata") or {}
        _refuse_if_throttled(model, metadata)
        request = ScriptedRequest(name, messages, list(optional_params.get("tools") or []), dict(metadata))
        reply = POLICIES[name](request)
        message = model_response.choices[0].message
        message.content = reply.content or None
        if reply.tool_calls:
            message.tool_calls = [
                litellm.types.utils.ChatCompletionMessageToolCall(
                    id=f"call_{uuid.uuid4().hex[:12]}",
                    type="function",
                    function=litellm.types.utils.Function(name=call["name"], arguments=json.dumps(call["arguments"])),
                )
                for call in reply.tool_calls
            ]
            model_response.choices[0].finish_reason = "tool_calls"
        prompt_tokens = litellm.token_counter(
            model="gpt-4o",
            messages=[{"role": m.get("role", "user"), "content": content_text(m.get("content"))} for m in messages],
        )
        completion_tokens = litellm.token_counter(
            model="gpt-4o", text=(reply.content or "") + json.dumps(reply.tool_calls)
        )
        model_response.usage = litellm.Usage(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        )
        model_response.model = f"scripted/{name}"
        model_response.created = int(time.time())
        return model_response


# ------------------------------------------------------------------------------------------------
# Mining policies

_CODE_BLOCK = re.compile(r"```(?:python)?\n(.*?)```", re.S)
_FLIP = {
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}


def _change_sites(tree: ast.AST) -> list[tuple[str, ast.AST]]:
    sites: list[tuple[str, ast.AST]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and type(node.ops[0]) in _FLIP:
            sites.append(("flip", node))
        elif isinstance(node, (ast.If, ast.While)):
            sites.append(("negate", node))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            sites.append(("shift", node))
    return sites


@policy("bug-rewriter")
def bug_rewriter(request: ScriptedRequest) -> ScriptedReply:
    blocks = _CODE_BLOCK.findall(request.last_user_text)
    if not blocks:
        return ScriptedReply("I need the function in a ```python block.")
    tree = ast.parse(blocks[-1])
    sites = _change_sites(tree)
    if not sites:
        return ScriptedReply("```python\n" + blocks[-1] + "```")  # nothing to change: returned as is
    kind, node = sites[int(request.metadata.get("attempt", 0)) % len(sites)]
    if kind == "flip":
        node.ops[0] = _FLIP[type(node.ops[0])]()
    elif kind == "negate":
        node.test = ast.UnaryOp(op=ast.Not(), operand=node.test)
    else:
        node.value += 1
    return ScriptedReply("```python\n" + ast.unparse(tree) + "\n```")


@policy("issue-writer")
def issue_writer(request: ScriptedRequest) -> ScriptedReply:
    text = request.last_user_text
    title = next(
        (line.removeprefix("Title hint:").strip() for line in text.splitlines() if line.startswith("Title hint:")), ""
    )
    evidence = text.split("## Evidence", 1)[1].strip() if "## Evidence" in text else ""
    return ScriptedReply(f"# {title or 'Unexpected behaviour'}\n\n{evidence}\n")


# ------------------------------------------------------------------------------------------------
# Agent policies: they act through whatever shell tool the agent offers (mini-SWE-agent's `bash`,
# Codex's `shell`, Claude Code's `Bash`, Gemini CLI's `run_shell_command`); the step is the number of assistant turns so far.

SUBMIT = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"


def _tool_names(request: ScriptedRequest) -> set[str]:
    return {tool.get("function", tool).get("name") for tool in request.tools}


def _shell_call(request: ScriptedRequest, command: str) -> dict:
    names = _tool_names(request)
    if "exec_command" in names:  # Codex CLI (unified exec)
        return {"name": "exec_command", "arguments": {"cmd": command}}
    if "shell" in names:  # older Codex CLI: argv list
        return {"name": "shell", "arguments": {"command": ["bash", "-lc", command]}}
    if "Bash" in names:  # Claude Code
        return {"name": "Bash", "arguments": {"command": command}}
    if "run_shell_command" in names:  # Gemini CLI
        return {"name": "run_shell_command", "arguments": {"command": command, "description": "scripted step"}}
    return {"name": "bash", "arguments": {"command": command}}  # mini-SWE-agent; OpenCode's `bash` takes the same


def _submits_by_command(request: ScriptedRequest) -> bool:
    """mini-SWE-agent (its one tool, `bash`) submits with a command; the other agents end a task with an
    answer and no tool call (OpenCode offers a `bash` too, but among `read`, `edit`, `write` ...)."""
    return _tool_names(request) == {"bash"}


def _step(request: ScriptedRequest) -> int:
    return sum(1 for message in request.messages if message.get("role") == "assistant")


def _apply_patch_command(patch: str) -> str:
    import base64

    # base64 survives any quoting; the file lives outside the repo so it is not part of the diff.
    encoded = base64.b64encode(patch.encode()).decode()
    return f"echo {encoded} | base64 -d > /tmp/gskill-fix.diff && git apply /tmp/gskill-fix.diff && git status --short"


def _act(request: ScriptedRequest, plan: list[str], narration: str) -> ScriptedReply:
    step = _step(request)
    command = plan[step] if step < len(plan) else SUBMIT
    if command == SUBMIT and not _submits_by_command(request):
        return ScriptedReply("Done.")  # Codex, Claude Code, OpenCode end a task with an answer and no tool call
    return ScriptedReply(f"{narration} (step {step + 1})", [_shell_call(request, command)])


@policy("oracle")
def oracle(request: ScriptedRequest) -> ScriptedReply:
    """Applies the task's gold patch (the gateway passes the task in the session metadata), submits."""
    patch = request.metadata.get("gold_patch", "")
    plan = ["git status --short", _apply_patch_command(patch) if patch else "true", SUBMIT]
    return _act(request, plan, "Applying the known fix")


@policy("noop")
def noop(request: ScriptedRequest) -> ScriptedReply:
    """Looks around and submits nothing."""
    return _act(request, ["ls", "git status --short", SUBMIT], "Looking around")


def _prompt_text(request: ScriptedRequest) -> str:
    """Everything the agent put before the model's first turn: system prompt(s), AGENTS.md / CLAUDE.md
    contents, skill listings, the task — wherever an agent injects a skill, it is in here."""
    parts = []
    for message in request.messages:
        if message.get("role") == "assistant":
            break
        parts.append(content_text(message.get("content")))
    return "\n".join(parts)


def skill_knows(skill_text: str, needs: list[str]) -> bool:
    """Does the prompt state what the task needs? Every needed fact must appear (case-insensitive)."""
    text = skill_text.lower()
    return bool(needs) and all(fact.lower() in text for fact in needs)


@policy("needs-skill")
def needs_skill(request: ScriptedRequest) -> ScriptedReply:
    """Resolves a task with probability `competent` when its prompt (system prompt and whatever the
    agent adds before the first turn: where skills go) states every fact the task needs — by default the source files the gold patch touches — and with
    probability `base` otherwise; a seeded draw per (seed, task, attempt) makes it deterministic.
    The outcome is a real function of the skill's text through the whole pipeline; it says nothing
    about how a real model would use the skill."""
    import random

    meta = request.metadata
    knows = skill_knows(_prompt_text(request), list(meta.get("needs") or []))
    chance = float(meta.get("competent", 0.9) if knows else meta.get("base", 0.1))
    draw = random.Random(f"{meta.get('seed', 0)}:{meta.get('instance_id', '')}:{meta.get('attempt', 1)}").random()
    if draw < chance and meta.get("gold_patch"):
        return _act(request, ["git status --short", _apply_patch_command(meta["gold_patch"]), SUBMIT], "Fixing")
    return _act(request, ["ls", SUBMIT], "Not sure where to look")


_MARKED = re.compile(r'<gskill-surface name="([\w-]+)">(.*?)</gskill-surface>', re.S)  # gskill.surfaces.marked


def surface_regions(prompt: str) -> tuple[str, dict[str, str]]:
    """(the prompt outside gskill's marked surface sections, {surface: its marked text}); the skill is
    in the former, wherever the agent put it."""
    regions: dict[str, str] = {}
    for found in _MARKED.finditer(prompt):
        regions[found.group(1)] = regions.get(found.group(1), "") + found.group(2)
    return _MARKED.sub("", prompt), regions


@policy("needs-two-facts")
def needs_two_facts(request: ScriptedRequest) -> ScriptedReply:
    """Like `needs-skill`, but a task needs two facts in two places: the skill names the source files its
    fix touches, AND the `agents-md` surface (gskill learn --surfaces: the text in its
    `<gskill-surface name="agents-md">` tag) names the test files of its failing tests (a test id's part before "::"). Its
    narration says what it missed ("where to look" / "how to run the tests"). Says nothing about real models."""
    import random

    meta = request.metadata
    outside, regions = surface_regions(_prompt_text(request))
    test_files = sorted({test.split("::")[0] for test in meta.get("tests") or [] if "::" in test})
    knows_where = skill_knows(outside, list(meta.get("needs") or []))
    knows_tests = not test_files or skill_knows(regions.get("agents-md", ""), test_files)
    chance = float(meta.get("competent", 0.9) if knows_where and knows_tests else meta.get("base", 0.1))
    draw = random.Random(f"{meta.get('seed', 0)}:{meta.get('instance_id', '')}:{meta.get('attempt', 1)}").random()
    if draw < chance and meta.get("gold_patch"):
        return _act(request, ["git status --short", _apply_patch_command(meta["gold_patch"]), SUBMIT], "Fixing")
    missed = [
        text for known, text in ((knows_where, "where to look"), (knows_tests, "how to run the tests")) if not known
    ]
    return _act(request, ["ls", SUBMIT], f"Not sure {' or '.join(missed) or 'about this one'}")


@policy("inspector")
def inspector(request: ScriptedRequest) -> ScriptedReply:
    """Prints what an agent can see of its environment (variables, PID 1's environment, git
    config), then submits nothing: the model the API-key isolation test drives."""
    plan = ["env", "tr '\\0' '\\n' < /proc/1/environ", "git config --list --show-origin || true", SUBMIT]
    return _act(request, plan, "Inspecting the environment")


# ------------------------------------------------------------------------------------------------
# Reflection policy (the learning loop's reflection model, `gskill learn --reflection-model scripted/reflector`)

_BLOCK = re.compile(r"^````markdown\n(.*?)\n````$", re.M | re.S)
_TASK = re.compile(r"^### (\S+) \(score ([0-9.]+)\)$", re.M)
# Source files of any language a profile mines, and the unit (test file, package) of a test id.
_SOURCE = re.compile(r"[\w./-]+\.(?:py|go|rs|ts|tsx|js)\b")
_TEST_UNIT = re.compile(r"([\w./-]+)::")
# What the reflector writes into a surface other than the skill (it is told the surface: "## Surface: NAME").
INSTRUCTIONS_HEADER = "# Project instructions\n\n## Tests\n"
REFLECTOR_HEADER = "# Working in this repository\n\nRun the tests with `python -m pytest -q`; read a failing test before editing.\n\n## Where fixes go\n"


def _block_after(text: str, heading: str) -> str:
    """The fenced block that follows the prompt's heading (the skill itself may contain headings)."""
    at = text.find(heading)
    found = _BLOCK.search(text, at) if at >= 0 else None
    body = found.group(1) if found else ""
    return "" if body.strip() == "(empty)" else body


def _between(text: str, start: str, *ends: str) -> str:
    at = text.find(start)
    if at < 0:
        return ""
    stop = min((i for i in (text.find(end, at + len(start)) for end in ends) if i >= 0), default=len(text))
    return text[at:stop]


def _failed_facts(section: str) -> list[tuple[str, str]]:
    """(source file, test file) pairs read from the failed tasks' side information."""
    facts: list[tuple[str, str]] = []
    for chunk in _TASK.split(section or "")[3::3]:
        fix_line = next((line for line in chunk.splitlines() if "reference fix changed" in line), "")
        test_line = next((line for line in chunk.splitlines() if line.startswith("**Failing tests**")), "")
        tests = _TEST_UNIT.findall(test_line)
        for source in _SOURCE.findall(fix_line.split(":", 1)[-1]):
            if (source, tests[0] if tests else "") not in facts:
                facts.append((source, tests[0] if tests else ""))
    return facts


def _test_line(test: str) -> str:
    return f"- `{test}` tests this code: run `python -m pytest {test} -q` first and read its failures."


def _fact_line(source: str, test: str) -> str:
    where = f" behind failures in `{test}`" if test else ""
    return f"- `{source}`: the code{where} lives here; read it before editing."


@policy("reflector")
def reflector(request: ScriptedRequest) -> ScriptedReply:
    """A deterministic stand-in for a reflection LLM, reading the prompts `gskill.engine` builds.

    refine: adds up to `facts_per_edit` (metadata, default 2) facts "which source file the failing
    tests' code lives in", read from the failed tasks' side information (the files the reference fix
    of a TRAINING task changed), in a seeded order; combine: the union of both candidates' lines;
    simplify: drops duplicate and generic lines, then facts from the end until within the target.
    Told the surface it edits ("## Surface: NAME", gskill learn --surfaces), refine writes the fact that
    belongs there: the skill, where the code lives; any other surface (agents-md, system-prompt), which
    test file covers the failing code and how to run it. It never sees validation or test tasks. It says
    nothing about what a real model would write."""
    import hashlib
    import json
    import random

    text = request.last_user_text
    strategy_match = re.search(r"^## Strategy: (\w+)$", text, re.M)
    strategy = strategy_match.group(1) if strategy_match else "refine"
    current = _block_after(text, "\n## Candidate A" if strategy == "combine" else "\n## Current ")
    if strategy == "draft":  # a first skill from README + layout: where the packages and tests are
        layout = _between(text, "\n## Layout", "\n## Test configuration", "\n## Strategy:").splitlines()[1:]
        folders = sorted({path.rsplit("/", 1)[0] + "/" for path in layout if _SOURCE.fullmatch(path) and "/" in path})
        lines = [f"- `{folder}`" + (": tests" if "test" in folder else ": source") for folder in folders]
        return ScriptedReply(
            "````markdown\n" + REFLECTOR_HEADER.split("## Where")[0] + "## Layout\n" + "\n".join(lines) + "\n````\n"
        )
    if strategy == "combine":
        other = _block_after(text, "\n## Candidate B")
        lines = current.splitlines()
        merged = lines + [line for line in other.splitlines() if line.strip() and line not in lines]
        result = "\n".join(merged)
    elif strategy == "simplify":
        target = int(re.search(r"at most (\d+) tokens", text[strategy_match.end() :]).group(1))
        seen: set[str] = set()
        kept = []
        for line in current.splitlines():
            if line.strip() and (line in seen or ("`" not in line and not line.startswith("#"))):
                continue
            seen.add(line)
            kept.append(line)
        from gskill.tokens import count_tokens

        while len(kept) > 1 and count_tokens("\n".join(kept)) > target:
            kept.pop()
        result = "\n".join(kept)
    elif (surface := re.search(r"^## Surface: (\S+)$", text, re.M)) and surface.group(1) != "skill":
        failed = _between(text, "\n## Examples that failed", "\n## Examples that succeeded", "\n## Strategy:")
        tests = []
        for _, test in _failed_facts(failed):
            if test and f"`{test}`" not in current and test not in tests:
                tests.append(test)
        digest = hashlib.sha256(json.dumps([current, tests]).encode()).hexdigest()
        random.Random(f"{request.metadata.get('seed', 0)}:{digest}").shuffle(tests)
        chosen = tests[: int(request.metadata.get("facts_per_edit", 2))]
        base = current if current.strip() else INSTRUCTIONS_HEADER
        result = base.rstrip("\n") + "\n" + "\n".join(map(_test_line, chosen)) if chosen else base
    else:
        known = current
        facts = [
            fact
            for fact in _failed_facts(
                _between(text, "\n## Examples that failed", "\n## Examples that succeeded", "\n## Strategy:")
            )
            if f"`{fact[0]}`" not in known
        ]
        # Seeded by what the decision is about (the current text and the candidate facts), not by the whole
        # prompt: a rollout's wall time in the side info must not change which facts are picked.
        digest = hashlib.sha256(json.dumps([current, facts]).encode()).hexdigest()
        random.Random(f"{request.metadata.get('seed', 0)}:{digest}").shuffle(facts)
        chosen = facts[: int(request.metadata.get("facts_per_edit", 2))]
        base = current if current.strip() else REFLECTOR_HEADER
        result = base.rstrip("\n") + "\n" + "\n".join(_fact_line(*fact) for fact in chosen) if chosen else base
    return ScriptedReply(f"Here is the revised skill.\n\n````markdown\n{result.strip()}\n````\n")
