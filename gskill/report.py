"""`gskill report RUNDIR`: one self-contained HTML file about a learn run (finished or in progress),
or about a `gskill mine` output folder (tasks per strategy, rejections, difficulty against its target).

Everything comes from the run folder: the store (candidates and iterations are written as the search
goes, so a running search can be reported), `learn.json`, and when present `evidence.json` (test
scores) and a transfer result (`RUNDIR/transfer/transfer.json`, or `--transfer DIR`). Plots are
matplotlib PNGs embedded as data URIs: the file opens anywhere, offline.
"""

from __future__ import annotations

import base64
import difflib
import html
import io
import json
from pathlib import Path
from typing import Any

from gskill.engine.core import describe_validation, validation_summary
from gskill.errors import GskillError
from gskill.schema import write_atomic

OPERATOR_COLOURS = {"seed": "#555555", "refine": "#1f77b4", "combine": "#9467bd", "simplify": "#2ca02c"}


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def load_run(run_dir: Path) -> dict[str, Any]:
    from gskill.engine.store import RunStore

    if not (run_dir / "store.sqlite").is_file():
        raise GskillError(f"{run_dir} is not a learn run folder (no store.sqlite)")
    store = RunStore(run_dir / "store.sqlite")
    try:
        run = {"candidates": store.candidates(), "iterations": store.iterations(), "evaluations": store.evaluations()}
    finally:
        store.close()
    if not run["candidates"]:
        raise GskillError(f"{run_dir} has no scored candidate yet (the seed is still being evaluated)")
    run["settings"] = json.loads((run_dir / "learn.json").read_text()) if (run_dir / "learn.json").is_file() else {}
    run["evidence"] = (
        json.loads((run_dir / "evidence.json").read_text()) if (run_dir / "evidence.json").is_file() else None
    )
    run["networked"], run["rollouts"] = networked_rollouts(run_dir)
    return run


def networked_rollouts(run_dir: Path) -> tuple[int, int]:
    """(rollouts whose task container had a network — the `limits.network: true` opt-in —, all rollouts)
    recorded under `run_dir`."""
    networked = total = 0
    for path in run_dir.rglob("rollouts.jsonl"):
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line being written
            total += 1
            networked += bool((record.get("rollout") or {}).get("network"))
    return networked, total


def _scores_plot(run: dict[str, Any]) -> str:
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 3.6))
    candidates, iterations = run["candidates"], run["iterations"]
    for entry in iterations:
        if entry.get("parent_scores"):
            n = len(entry["parent_scores"])
            axis.scatter(entry["iteration"], sum(entry["parent_scores"]) / n, marker="_", color="#999999", s=60)
        if entry.get("child_scores"):
            n = len(entry["child_scores"])
            axis.scatter(
                entry["iteration"],
                sum(entry["child_scores"]) / n,
                marker="x",
                s=25,
                color="#d62728" if entry.get("outcome") != "accepted" else "#2ca02c",
            )
    best, xs, ys = 0.0, [], []
    for candidate in candidates:
        if not candidate["val_scores"]:
            continue  # deferred: kept unvalidated (one kept child in --validate-every is validated)
        axis.scatter(
            candidate["iteration"],
            candidate["val_mean"],
            s=70,
            color=OPERATOR_COLOURS.get(candidate["operator"], "k"),
            zorder=3,
        )
        best = max(best, candidate["val_mean"])
        xs.append(candidate["iteration"])
        ys.append(best)
    last = max([e["iteration"] for e in iterations] + xs)
    axis.step(xs + [last], ys + [best], where="post", color="#ff7f0e", label="best validation mean")
    evidence = run.get("evidence") or {}
    for label, marker in (("seed", "v"), ("best", "^")):
        test = (evidence.get("test") or {}).get(label)
        if test:
            axis.scatter(
                last + 0.6, test["resolve_rate"], marker=marker, s=80, color="#17becf", zorder=4, label=f"test: {label}"
            )
    axis.scatter([], [], marker="_", color="#999999", label="minibatch: parent")
    axis.scatter([], [], marker="x", color="#2ca02c", label="minibatch: child (accepted)")
    axis.scatter([], [], marker="x", color="#d62728", label="minibatch: child (rejected)")
    for operator, colour in OPERATOR_COLOURS.items():
        axis.scatter([], [], color=colour, s=40, label=f"validation: {operator}")
    axis.set(xlabel="iteration", ylabel="score (share resolved)", ylim=(-0.05, 1.05))
    axis.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    axis.grid(alpha=0.3)
    return _png(figure)


def _frontier_plot(run: dict[str, Any]) -> str:
    import matplotlib.pyplot as plt
    import numpy as np

    from gskill.engine import frontier
    from gskill.engine.types import CandidateRecord

    records = [
        CandidateRecord(
            c["index"], c["components"], c["parents"], c["operator"], c["iteration"], c["val_scores"], c["tokens"]
        )
        for c in run["candidates"]
        if c["val_scores"]  # a deferred candidate has no validation scores
    ]
    tasks = list(records[0].val_scores)
    fronts = frontier.fronts(records)
    weights = frontier.frontier_weights(records)
    grid = np.array([[r.val_scores.get(t, 0.0) for t in tasks] for r in records])
    figure, axis = plt.subplots(figsize=(max(4, 0.45 * len(tasks) + 2), max(2, 0.35 * len(records) + 1)))
    axis.imshow(grid, cmap="Greens", vmin=0, vmax=1, aspect="auto")
    for row, record in enumerate(records):
        for column, task in enumerate(tasks):
            if record.index in fronts[task] and grid[row, column] > 0:
                axis.text(column, row, "★", ha="center", va="center", fontsize=8, color="#ff7f0e")
    axis.set_xticks(range(len(tasks)), [t[-10:] for t in tasks], rotation=70, fontsize=7)
    axis.set_yticks(
        range(len(records)),
        [f"#{r.index} {r.operator}" + (" (frontier)" if r.index in weights else "") for r in records],
        fontsize=7,
    )
    axis.set_xlabel("validation task (★ = best score on it)")
    return _png(figure)


def _lineage_plot(run: dict[str, Any]) -> str:
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 3.4))
    by_index = {c["index"]: c for c in run["candidates"]}
    shown: dict[int, float] = {}  # a deferred candidate (no validation) sits at its parent's height, hollow
    for candidate in run["candidates"]:
        parent_y = shown.get(candidate["parents"][0], 0.0) if candidate["parents"] else 0.0
        shown[candidate["index"]] = candidate["val_mean"] if candidate["val_scores"] else parent_y
    for candidate in run["candidates"]:
        for parent in candidate["parents"]:
            source = by_index.get(parent)
            if source:
                axis.annotate(
                    "",
                    xy=(candidate["iteration"], shown[candidate["index"]]),
                    xytext=(source["iteration"], shown[source["index"]]),
                    arrowprops={
                        "arrowstyle": "->",
                        "color": OPERATOR_COLOURS.get(candidate["operator"], "k"),
                        "alpha": 0.7,
                    },
                )
        colour = OPERATOR_COLOURS.get(candidate["operator"], "k")
        axis.scatter(
            candidate["iteration"],
            shown[candidate["index"]],
            s=120,
            color=colour if candidate["val_scores"] else "none",
            edgecolors=colour,
            zorder=3,
        )
        axis.annotate(
            f"#{candidate['index']}",
            (candidate["iteration"], shown[candidate["index"]]),
            textcoords="offset points",
            xytext=(6, 6),
            fontsize=8,
        )
    for operator, colour in OPERATOR_COLOURS.items():
        axis.scatter([], [], color=colour, label=operator)
    axis.scatter([], [], color="none", edgecolors="k", label="validation deferred")
    axis.set(xlabel="iteration", ylabel="validation mean", ylim=(-0.05, 1.1))
    axis.legend(fontsize=7, loc="lower right")
    axis.grid(alpha=0.3)
    return _png(figure)


def _spend_plot(run: dict[str, Any]) -> str:
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 3))
    xs = [0] + [e["iteration"] for e in run["iterations"]]
    calls = [len(run["candidates"][0]["val_scores"])]  # the seed's validation
    calls += [e["spend"]["metric_calls"] for e in run["iterations"]]
    dollars = [0.0] + [e["spend"]["cost_usd"] for e in run["iterations"]]
    axis.plot(xs, calls, color="#1f77b4", marker="o", markersize=3, label="rollouts paid")
    axis.set(xlabel="iteration", ylabel="rollouts paid")
    twin = axis.twinx()
    twin.plot(xs, dollars, color="#d62728", linestyle="--", label="dollars")
    twin.set_ylabel("dollars (rollouts + reflection)")
    axis.grid(alpha=0.3)
    figure.legend(fontsize=7, loc="upper left")
    return _png(figure)


def _diff_html(seed: str, best: str) -> str:
    lines = []
    for line in difflib.unified_diff(seed.splitlines(), best.splitlines(), "seed", "best", lineterm=""):
        kind = (
            "add"
            if line.startswith("+") and not line.startswith("+++")
            else "del"
            if line.startswith("-") and not line.startswith("---")
            else ""
        )
        lines.append(f'<span class="{kind}">{html.escape(line)}</span>')
    return "\n".join(lines) or "(identical to the seed)"


def _surfaces_html(seed: dict[str, str], best: dict[str, str], frozen: list[str]) -> str:
    """The best candidate's text and its diff from the seed: the skill as always, then each other surface
    (gskill learn --surfaces) under its own heading."""
    parts = []
    for name, text in best.items():
        if name != "skill":
            note = " (frozen: its seed text)" if name in frozen else ""
            parts.append(f'<h3 id="surface-{html.escape(name)}">Surface: {html.escape(name)}{note}</h3>')
        parts.append(f"<pre>{html.escape(text)}</pre><h3>Diff from the seed</h3>")
        parts.append(f"<pre>{_diff_html(seed.get(name, ''), text)}</pre>")
    return "".join(parts)


def _transfer_html(transfer: dict[str, Any] | None) -> str:
    from gskill.transfer import TABLE_HEADERS, table_rows

    if not transfer:
        return "<p>No transfer result yet: run <code>gskill transfer --skill RUN/best_skill.md ... --out RUN/transfer</code>.</p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in TABLE_HEADERS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>" for row in table_rows(transfer)
    )
    return f"<table><tr>{head}</tr>{body}</table>"


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left}
pre{background:#f6f8fa;padding:.8rem;overflow:auto;font-size:.8rem;white-space:pre-wrap}
.add{color:#116329;background:#dafbe1}.del{color:#82071e;background:#ffebe9}.banner{background:#fff8c5;padding:.5rem 1rem}
.note{color:#666;font-size:.85rem}img{max-width:100%}
"""


def _difficulty_plot(difficulty: dict[str, Any]) -> str:
    """Share of tasks per FAIL_TO_PASS bin: the target, what validated, what was kept."""
    import matplotlib.pyplot as plt

    bins = list(difficulty["validated"]["f2p_bins"])
    series = [
        ("target", [difficulty["target"].get(name, 0.0) for name in bins], "#999999"),
        *(
            (label, [count / max(found["tasks"], 1) for count in found["f2p_bins"].values()], colour)
            for label, found, colour in (
                (f"validated ({difficulty['validated']['tasks']})", difficulty["validated"], "#ff7f0e"),
                (f"kept ({difficulty['kept']['tasks']})", difficulty["kept"], "#1f77b4"),
            )
        ),
    ]
    figure, axis = plt.subplots(figsize=(7, 3))
    width = 0.8 / len(series)
    for offset, (label, shares, colour) in enumerate(series):
        axis.bar([i + offset * width for i in range(len(bins))], shares, width, label=label, color=colour)
    axis.set_xticks([i + width for i in range(len(bins))], bins)
    axis.set_xlabel("FAIL_TO_PASS tests per task")
    axis.set_ylabel("share of tasks")
    axis.legend(frameon=False)
    return _png(figure)


def _difficulty_html(mining: dict[str, Any] | None) -> str:
    difficulty = (mining or {}).get("difficulty")
    if not difficulty:
        return "<p>No difficulty figures (tasks mined before calibration, or not mined by gskill).</p>"
    rows = "".join(
        f"<tr><th>{label}</th>"
        + "".join(f"<td>{found[key]}</td>" for key in ("tasks", "over_suite_share", "points_at_bug", "multi_function"))
        + "</tr>"
        for label, found in (("validated", difficulty["validated"]), ("kept", difficulty["kept"]))
    )
    return (
        f'<img alt="difficulty" src="{_difficulty_plot(difficulty)}">'
        "<table><tr><th></th><th>tasks</th><th>fail more than "
        f"{difficulty['target']['max_suite_share']:.0%} of the suite</th><th>failure names the bug's function</th>"
        f"<th>change several functions</th></tr>{rows}</table>"
    )


def _mining_report(tasks: Path | None) -> dict[str, Any] | None:
    """The mining report of a tasks folder (or of the folder of a tasks .jsonl file), if gskill mined it."""
    if tasks is None:
        return None
    path = (tasks if tasks.is_dir() else tasks.parent) / "mining_report.json"
    return json.loads(path.read_text()) if path.is_file() else None


def render_mining(mined_dir: Path) -> Path:
    """MINED/report.html for a `gskill mine` output folder: tasks per strategy, rejections, difficulty."""
    import matplotlib

    matplotlib.use("Agg")
    mining = _mining_report(mined_dir)
    if mining is None:
        raise GskillError(f"{mined_dir} is neither a learn run folder nor a mining output (no mining_report.json)")
    strategies = sorted(set(mining["candidates"]) | set(mining["validated"]))
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{mining['candidates'].get(name, 0)}</td>"
        f"<td>{mining['validated'].get(name, 0)}</td><td>"
        + html.escape(
            ", ".join(f"{r} {c}" for r, c in sorted(mining["rejected"].get(name, {}).items(), key=lambda kv: -kv[1]))
        )
        + "</td></tr>"
        for name in strategies
    )
    splits = ", ".join(f"{name} {count}" for name, count in mining["splits"].items())
    summary = (
        f"<p>{mining['tasks']} tasks ({splits}) of {html.escape(mining['repo'])}@{mining['snapshot'][:12]} "
        f"({mining['language']}), {mining['wall_seconds']} s, {mining['llm_calls']} model calls.</p>"
    )
    sections = [
        (
            "strategies",
            "Tasks per strategy",
            summary + "<table><tr><th>strategy</th><th>candidates</th>"
            f"<th>validated</th><th>rejected</th></tr>{rows}</table>",
        ),
        ("difficulty", "Difficulty: target, validated, kept", _difficulty_html(mining)),
    ]
    body = "".join(f'<section id="{key}"><h2>{title}</h2>{content}</section>' for key, title, content in sections)
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>gskill mining report · {html.escape(mining["repo"])}</title>
<style>{CSS}</style></head><body><h1>gskill mining report · {html.escape(mining["repo"])}</h1>{body}</body></html>
"""
    path = mined_dir / "report.html"
    write_atomic(path, page)
    return path


def _search_line(options: dict[str, Any], iterations: list[dict[str, Any]]) -> str:
    """How parents were picked and children validated: "parent guarded, validation race, one kept
    child in 1 validated: 5 raced, 3 raced out (stopped at 10/50: 2, 20/50: 1)"."""
    summary = validation_summary(iterations)
    counts = ", ".join(
        f"{n} {'validated in ' + mode if mode == 'full' else mode}" for mode, n in summary["children"].items()
    )
    where = ", ".join(f"{k}: {n}" for k, n in summary["raced_out_at"].items())
    return (
        f"parent {options.get('parent_selection', 'pareto')}, validation {options.get('validation', 'full')}, "
        f"one kept child in {options.get('validate_every', 1)} validated: "
        f"{counts or 'no child kept yet'}" + (f" (stopped at {where})" if where else "")
    )


def render(run_dir: Path, transfer_dir: Path | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    if not (run_dir / "store.sqlite").is_file() and (run_dir / "mining_report.json").is_file():
        return render_mining(run_dir)
    run = load_run(run_dir)
    options = run["settings"].get("options", {})
    tasks_dir = run["settings"].get("tasks")
    mining = _mining_report(Path(tasks_dir) if tasks_dir else None)
    evidence = run["evidence"]
    transfer_path = (transfer_dir or run_dir / "transfer") / "transfer.json"
    transfer = json.loads(transfer_path.read_text()) if transfer_path.is_file() else None
    candidates = run["candidates"]
    best = max(candidates, key=lambda c: (c["val_mean"], -c["tokens"], -c["index"]))
    if evidence:
        best = next((c for c in candidates if c["index"] == evidence["best"]["index"]), best)
    seed = candidates[0]
    spend = (
        run["iterations"][-1]["spend"]
        if run["iterations"]
        else {"metric_calls": len(seed["val_scores"]), "cost_usd": 0.0}
    )
    scripted = str(options.get("model", "")).startswith("scripted/") or str(
        options.get("reflection_model", "")
    ).startswith("scripted/")
    status = (
        f"finished: {evidence['stop_reason']}"
        if evidence
        else "in progress (or stopped before its end): figures as of now"
    )
    test = (evidence or {}).get("test") or {}
    test_line = (
        ", ".join(f"{label} {t['resolved']}/{t['scored_runs']} ({t['resolve_rate']:.0%})" for label, t in test.items())
        or "not scored yet"
    )
    summary = [
        ("agent / model", f"{options.get('agent', '?')} / {options.get('model', '?')}"),
        ("reflection model", options.get("reflection_model", "?")),
        ("status", status),
        ("candidates / iterations", f"{len(candidates)} / {len(run['iterations'])}"),
        (
            "validation mean: seed → best",
            f"{seed['val_mean']:.2f} → {best['val_mean']:.2f} (candidate #{best['index']}, {best['operator']})",
        ),
        ("test split (never seen by the search)", test_line),
        ("best skill tokens / budget", f"{best['tokens']} / {options.get('token_budget', '?')}"),
        ("spend", f"{spend['metric_calls']} rollouts paid, ${spend.get('cost_usd', 0):.2f}"),
        ("search", _search_line(options, run["iterations"])),
        (
            "task network",
            f"ON in {run['networked']} of {run['rollouts']} rollouts (limits.network: true)"
            if run["networked"]
            else "off",
        ),
    ]
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in summary)
    log_rows = "".join(
        f"<tr><td>{e['iteration']}</td><td>#{e['parent']}</td><td>{e['operator']}</td><td>{sum(e.get('parent_scores') or [0]):g}"
        f" → {sum(e['child_scores']):g}</td><td>{e.get('outcome', '')}</td><td>{describe_validation(e)}</td>"
        f"<td>{html.escape(str(e.get('reason') or ''))}</td></tr>"
        if e.get("child_scores") is not None
        else f"<tr><td>{e['iteration']}</td><td>#{e['parent']}</td><td>{e['operator']}</td><td>-</td><td>{e.get('outcome', '')}</td><td></td>"
        f"<td>{html.escape(str(e.get('reason') or ''))}</td></tr>"
        for e in run["iterations"]
    )
    sections = [
        ("summary", "Summary", f"<table>{rows}</table>"),
        (
            "scores",
            "Scores over the run",
            f'<img alt="scores" src="{_scores_plot(run)}"><p class="note">Dots: validation mean of each accepted candidate; '
            "dashes and crosses: minibatch scores of parents and children; triangles: the test split.</p>",
        ),
        ("frontier", "Frontier coverage per validation task", f'<img alt="frontier" src="{_frontier_plot(run)}">'),
        ("lineage", "Lineage of candidates", f'<img alt="lineage" src="{_lineage_plot(run)}">'),
        ("spend", "Spend over the run", f'<img alt="spend" src="{_spend_plot(run)}">'),
        (
            "skill",
            "The best skill",
            _surfaces_html(seed["components"], best["components"], options.get("frozen") or []),
        ),
        ("transfer", "Transfer", _transfer_html(transfer)),
        ("difficulty", "Task difficulty (the mined tasks against the target)", _difficulty_html(mining)),
        (
            "iterations",
            "Iterations",
            f"<table><tr><th>#</th><th>parent</th><th>operator</th><th>minibatch parent → child</th><th>outcome</th><th>validation</th><th>why</th></tr>{log_rows}</table>",
        ),
    ]
    banner = (
        '<p class="banner">Scripted models: these figures exercise the machinery and say nothing about real models.</p>'
        if scripted
        else ""
    )
    if run["networked"]:
        banner += (
            f'<p class="banner">Task containers had a network in {run["networked"]} of {run["rollouts"]} rollouts (limits.network: true): '
            "agents could download the released project and diff it against the bug state.</p>"
        )
    body = "".join(f'<section id="{key}"><h2>{title}</h2>{content}</section>' for key, title, content in sections)
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>gskill report · {html.escape(run_dir.name)}</title>
<style>{CSS}</style>
<script>/* lets a headless browser report that every plot decoded */
addEventListener("load", () => {{ document.body.dataset.imagesLoaded = [...document.images].filter(i => i.complete && i.naturalWidth > 0).length; }});
</script></head><body><h1>gskill learn report · {html.escape(run_dir.name)}</h1>{banner}{body}</body></html>
"""
    path = run_dir / "report.html"
    write_atomic(path, page)
    return path
