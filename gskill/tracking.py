"""Optional experiment tracking: `--track mlflow[=URI]` and `--track wandb[=PROJECT]` on `gskill learn`,
`gskill eval` and `gskill transfer`.

A `Tracker` is one backend's run (`BACKENDS` maps a name to its class); `Tracking` fans every call out to
the chosen trackers and never lets a backend end a gskill run: the first failure of a backend (a server
gone down) is one warning line, and that backend is dropped for the rest of the run. With no backend
chosen `Tracking` does nothing.

The id of each tracked run is kept in RUN/tracking.json, so a resumed run (`learn --resume`, an eval
re-run) reopens the same tracked run, and a step already logged is not logged again. Backends receive
only what callers pass: options, counts, metrics and the run's own output files; `scrub` drops any
parameter holding the value of an environment variable that looks like a secret.

MLflow with no URI tracks into RUN/mlflow.db (SQLite, no server) with artifacts in RUN/mlartifacts/.
W&B runs offline (into RUN/wandb/, `wandb sync` uploads it) unless WANDB_API_KEY is set.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Protocol

from gskill.errors import GskillError
from gskill.schema import write_atomic

TRACKING_FILE = "tracking.json"
EXPERIMENT = "gskill"
# Logged at every learn iteration: the highest step a backend holds for it is the last step logged.
STEP_METRIC = "rollouts"
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL", re.IGNORECASE)


class Tracker(Protocol):
    """One backend's run. Every method may raise: `Tracking` contains the failure."""

    run_id: str

    def log_params(self, params: dict[str, str]) -> None: ...
    def log_metrics(self, metrics: dict[str, float], step: int | None) -> None: ...
    def log_artifact(self, path: Path, folder: str) -> None: ...
    def last_step(self) -> int: ...
    def close(self, status: str) -> None: ...


def _missing_extra(backend: str) -> GskillError:
    return GskillError(f"--track {backend} needs the {backend} extra: pip install 'gskill[{backend}]'")


class MlflowTracker:
    """An MLflow run through `MlflowClient` (no global active run). `target`: a tracking URI, default
    the SQLite store RUN/mlflow.db. mlflow-skinny with SQLAlchemy is enough for that store."""

    module = "mlflow"

    def __init__(self, run_dir: Path, kind: str, target: str | None, run_id: str | None) -> None:
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        for name in ("mlflow", "alembic"):  # schema migrations of a new store log at INFO
            logging.getLogger(name).setLevel(logging.WARNING)
        self.client = MlflowClient(target or f"sqlite:///{(run_dir / 'mlflow.db').resolve()}")
        experiment = self.client.get_experiment_by_name(EXPERIMENT)
        if experiment is not None:
            experiment_id = experiment.experiment_id
        else:  # a local store keeps its artifacts in the run folder too; a server decides for itself
            artifacts = None if target else (run_dir / "mlartifacts").resolve().as_uri()
            experiment_id = self.client.create_experiment(EXPERIMENT, artifact_location=artifacts)
        if run_id:
            try:
                self.client.update_run(run_id, status="RUNNING")
            except MlflowException:  # the store no longer holds it: start over
                run_id = None
        if not run_id:
            run = self.client.create_run(experiment_id, run_name=f"{kind}-{run_dir.name}", tags={"gskill.kind": kind})
            run_id = run.info.run_id
        self.run_id = run_id

    def log_params(self, params: dict[str, str]) -> None:
        from mlflow.entities import Param, RunTag

        logged = self.client.get_run(self.run_id).data.params
        # MLflow refuses to change a logged parameter: a resume's raised budget becomes a tag.
        fresh = [Param(key, value) for key, value in params.items() if key not in logged]
        changed = [RunTag(f"resumed.{key}", value) for key, value in params.items() if logged.get(key, value) != value]
        self.client.log_batch(self.run_id, params=fresh, tags=changed)

    def log_metrics(self, metrics: dict[str, float], step: int | None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(key, value, now, step or 0) for key, value in metrics.items()]
        self.client.log_batch(self.run_id, metrics=batch)  # one transaction: a step is logged whole or not

    def log_artifact(self, path: Path, folder: str) -> None:
        self.client.log_artifact(self.run_id, str(path), artifact_path=folder or None)

    def last_step(self) -> int:
        return max((metric.step for metric in self.client.get_metric_history(self.run_id, STEP_METRIC)), default=0)

    def close(self, status: str) -> None:
        self.client.set_terminated(self.run_id, status=status)


class WandbTracker:
    """A W&B run, resumable by id. `target`: the project (default gskill). Offline (RUN/wandb/) unless
    WANDB_API_KEY is set; wandb reads the key itself, gskill never passes it."""

    module = "wandb"

    def __init__(self, run_dir: Path, kind: str, target: str | None, run_id: str | None) -> None:
        import wandb

        self.wandb = wandb
        self.run = wandb.init(
            project=target or EXPERIMENT,
            dir=str(run_dir),
            id=run_id or uuid.uuid4().hex[:12],
            resume="allow",
            mode="online" if os.environ.get("WANDB_API_KEY") else "offline",
            name=f"{kind}-{run_dir.name}",
            job_type=kind,
            settings=wandb.Settings(console="off"),
        )
        self.run_id = self.run.id

    def log_params(self, params: dict[str, str]) -> None:
        self.run.config.update(params, allow_val_change=True)

    def log_metrics(self, metrics: dict[str, float], step: int | None) -> None:
        if step is None:
            self.run.summary.update(metrics)
        else:
            self.run.log(metrics, step=step)

    def log_artifact(self, path: Path, folder: str) -> None:
        name = re.sub(
            r"[^\w.-]", "-", f"{self.run_id}-{folder}-{path.name}" if folder else f"{self.run_id}-{path.name}"
        )
        artifact = self.wandb.Artifact(name, type="gskill-output")
        artifact.add_file(str(path), name=f"{folder}/{path.name}" if folder else path.name)
        self.run.log_artifact(artifact)

    def last_step(self) -> int:
        return 0  # an offline run cannot be asked: tracking.json's record is the answer

    def close(self, status: str) -> None:
        self.run.finish(exit_code=0 if status == "FINISHED" else 1)


BACKENDS: dict[str, type] = {"mlflow": MlflowTracker, "wandb": WandbTracker}


def parse_track(specs: list[str]) -> dict[str, str | None]:
    """`--track` values → {backend: target or None}; an unknown backend or a missing extra is a
    GskillError (checked before a run starts)."""
    chosen: dict[str, str | None] = {}
    for spec in specs:
        backend, _, target = spec.partition("=")
        if backend not in BACKENDS:
            raise GskillError(f"--track takes mlflow[=URI] or wandb[=PROJECT], not {spec!r}")
        if importlib.util.find_spec(BACKENDS[backend].module) is None:
            raise _missing_extra(backend)
        chosen[backend] = target or None
    return chosen


class Tracking:
    """The chosen backends' runs for one gskill run folder (a context manager: the runs end FINISHED,
    FAILED when the block raises, KILLED when the process is stopped)."""

    def __init__(self, run_dir: Path, trackers: dict[str, Tracker], record: dict[str, dict[str, Any]]) -> None:
        self.run_dir, self.trackers, self.record = run_dir, trackers, record

    def __enter__(self) -> "Tracking":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        stopped = exc_type is not None and not issubclass(exc_type, Exception)  # SIGTERM / Ctrl-C
        self.close("FINISHED" if exc_type is None else "KILLED" if stopped else "FAILED")

    def _each(self, action: Callable[[str, Tracker], None]) -> None:
        for backend, tracker in list(self.trackers.items()):
            try:
                action(backend, tracker)
            except Exception as exc:  # a tracking failure never costs the run
                del self.trackers[backend]
                _warn(backend, exc)

    def params(self, params: dict[str, Any]) -> None:
        flat = scrub(flatten(params))
        self._each(lambda _, tracker: tracker.log_params(flat))

    def metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Log `metrics`; at `step`, only in backends that have not logged that step yet (a resumed run
        replays its earlier iterations)."""

        def log(backend: str, tracker: Tracker) -> None:
            if step is not None and step <= self.record[backend].get("last_step", 0):
                return
            tracker.log_metrics(metrics, step)
            if step is not None:
                self.record[backend]["last_step"] = step
                self._save()

        self._each(log)

    def artifact(self, path: Path, folder: str = "") -> None:
        if path.is_file():
            self._each(lambda _, tracker: tracker.log_artifact(path, folder))

    def close(self, status: str) -> None:
        self._each(lambda _, tracker: tracker.close(status))
        self.trackers.clear()

    def _save(self) -> None:
        write_atomic(self.run_dir / TRACKING_FILE, json.dumps(self.record, indent=2))


def open_tracking(specs: list[str], run_dir: Path, kind: str) -> Tracking:
    """The tracked runs of `run_dir`: the backends `specs` (`--track` values) name, else those
    RUN/tracking.json records (a resumed run stays tracked). A backend recorded with the same target
    reopens its run. A backend that cannot be reached is a warning: the run goes on without it."""
    path = run_dir / TRACKING_FILE
    recorded: dict[str, dict[str, Any]] = json.loads(path.read_text()) if path.is_file() else {}
    chosen = parse_track(specs) if specs else parse_track([_spec(b, r.get("target")) for b, r in recorded.items()])
    trackers: dict[str, Tracker] = {}
    record: dict[str, dict[str, Any]] = {}
    run_dir.mkdir(parents=True, exist_ok=True)
    for backend, target in chosen.items():
        previous = recorded.get(backend, {})
        target = target or previous.get("target")
        same = previous.get("target") == target and previous.get("run_id")
        try:
            tracker = BACKENDS[backend](run_dir, kind, target, previous["run_id"] if same else None)
            last = previous.get("last_step", 0) if tracker.run_id == previous.get("run_id") else 0
            record[backend] = {"target": target, "run_id": tracker.run_id, "last_step": max(last, tracker.last_step())}
            trackers[backend] = tracker
        except Exception as exc:
            _warn(backend, exc)
    tracking = Tracking(run_dir, trackers, {**recorded, **record})
    if record:
        tracking._save()
    return tracking


def _spec(backend: str, target: str | None) -> str:
    return f"{backend}={target}" if target else backend


def _warn(backend: str, exc: Exception) -> None:
    message = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    print(
        f"warning: tracking to {backend} failed ({type(exc).__name__}: {message}); the run continues without it",
        file=sys.stderr,
        flush=True,
    )


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested options as flat `a.b` parameters; lists as JSON; None left out."""
    flat: dict[str, str] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        elif value is not None:
            flat[name] = json.dumps(value) if isinstance(value, list) else str(value)
    return flat


def scrub(params: dict[str, str]) -> dict[str, str]:
    """`params` without any value that holds a secret-looking environment variable's value."""
    secrets = [value for name, value in os.environ.items() if SECRET_NAME.search(name) and len(value) >= 6]
    return {key: value for key, value in params.items() if not any(secret in value for secret in secrets)}


def numbers(values: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The finite numbers of a (nested) result as metrics named `a/b`; booleans and text left out."""
    found: dict[str, float] = {}
    for key, value in values.items():
        name = re.sub(r"[^\w./:-]", "_", f"{prefix}{key}")
        if isinstance(value, dict):
            found.update(numbers(value, f"{name}/"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            found[name] = float(value)
    return found


# ------------------------------------------------------------------------------------------------
# gskill learn


def search_events(tracking: Tracking, then: Callable[[str, dict], None]) -> Callable[[str, dict], None]:
    """The engine's event callback: `then(kind, data)`, and each iteration's metrics logged at step =
    its number: best validation mean and frontier after it, its spend and outcome — the values
    iterations.jsonl (spend, outcome) and candidates.jsonl (val_mean, scores) record."""
    frontier: dict[str, float] = {}

    def on_event(kind: str, data: dict) -> None:
        then(kind, data)
        if kind == "candidate":
            frontier.update(
                best_val=round(data["best_val"], 4), frontier_size=data["frontier"], frontier_coverage=data["covered"]
            )
        elif kind == "iteration":
            spend = data["spend"]
            step = {
                **frontier,
                "spend_usd": spend["cost_usd"],
                STEP_METRIC: spend["metric_calls"],
                "accepted": 1.0 if data.get("outcome") == "accepted" else 0.0,
            }
            tracking.metrics(step, step=data["iteration"])

    return on_event


def endpoint_params(endpoints: dict[str, Any]) -> dict[str, Any]:
    """Where each self-hosted model is served and its price (`gskill.schema.ModelEndpoint`; it names
    the variable holding a key, never holds one, and that name is left out too)."""
    return {
        f"endpoint.{model}": {"api_base": endpoint.api_base or None, "price": getattr(endpoint, "price", None)}
        for model, endpoint in endpoints.items()
    }


def learn_params(options: dict[str, Any], tasks_dir: Path, endpoints: dict[str, Any]) -> dict[str, Any]:
    """A learn run's parameters: its options (the seed skill as its size: the text is candidate 0's
    artifact), the tasks folder, the split sizes and the models' endpoints."""
    from gskill.engine import count_tokens
    from gskill.learn import load_split

    shown = {key: value for key, value in options.items() if key not in ("seed_skill", "seed_surfaces")}
    splits = {
        f"{split}_tasks": len(load_split(tasks_dir, split))
        for split in ("train", "val", "test")
        if (tasks_dir / f"{split}.jsonl").is_file()
    }
    return {
        **shown,
        "seed_skill_tokens": count_tokens(options.get("seed_skill", "")),
        **{f"seed_{name}_tokens": count_tokens(text) for name, text in (options.get("seed_surfaces") or {}).items()},
        "tasks": str(tasks_dir),
        **splits,
        **endpoint_params(endpoints),
    }


def log_learn_outputs(tracking: Tracking, run_dir: Path) -> None:
    """A finished learn run's outputs: every accepted candidate's text (candidates/<index>-<operator>.md)
    and lineage (candidates.jsonl), iterations.jsonl, evidence.json with its numbers as final metrics,
    and report.html (rendered here)."""
    if not tracking.trackers:
        return
    evidence = json.loads((run_dir / "evidence.json").read_text())
    tracking.metrics(
        numbers(
            {key: evidence[key] for key in ("seed", "best", "spend", "test", "candidates", "iterations", "accepted")},
            "final/",  # apart from the per-iteration metrics ("accepted" there is one iteration's outcome)
        )
    )
    with tempfile.TemporaryDirectory() as scratch:
        for line in (run_dir / "candidates.jsonl").read_text().splitlines():
            record = json.loads(line)
            text = Path(scratch) / f"{record['index']}-{record['operator']}.md"
            text.write_text(record["components"].get("skill", ""))
            tracking.artifact(text, "candidates")
    for name in ("candidates.jsonl", "iterations.jsonl", "evidence.json", "best_skill.md"):
        tracking.artifact(run_dir / name)
    from gskill.report import render

    try:
        tracking.artifact(render(run_dir))
    except Exception as exc:  # the report is a view: the run and its other artifacts stand without it
        print(f"warning: report.html not rendered for tracking ({type(exc).__name__}: {exc})", file=sys.stderr)
