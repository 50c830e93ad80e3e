"""`--track mlflow` / `--track wandb`: what reaches the tracking backend is exactly what the run wrote
(iterations.jsonl, candidates.jsonl, evidence.json, summary.json, transfer.json), a kill -9 and
`--resume` continue the same tracked run without logging a step twice, no API key reaches a backend,
and a backend failing never costs the run. The learn loop, engine and CLI are real; rollouts are
scored by the container-free toy rule (tests/tracking_driver.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from importlib.machinery import ModuleSpec
from pathlib import Path

import pytest

from gskill.engine.frontier import best_candidate, frontier_weights, fronts
from gskill.engine.types import CandidateRecord
from gskill.errors import GskillError
from tests.helpers import ROOT, assert_one_line_error, optional
from tests.tracking_driver import write_toy_tasks

pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy")  # mlflow 3.18 on SQLAlchemy 2.1
SECRET = "sk-test-secret"
LEARN = [
    "--model",
    "scripted/needs-skill",
    "--reflection-model",
    "scripted/reflector",
    "--scripted",
    "base=0",
    "--workers",
    "2",
    "--minibatch",
    "2",
    "--validate-every",
    "1",
    "--no-test",
]


def driver(*args: str, env: dict[str, str] | None = None, **popen) -> subprocess.CompletedProcess | subprocess.Popen:
    """`gskill ARGS` with toy rollouts and a fake provider key in the environment."""
    command = [sys.executable, "-m", "tests.tracking_driver", *args]
    full_env = {**os.environ, "COLUMNS": "200", "OPENAI_API_KEY": SECRET, **(env or {})}
    if popen:
        return subprocess.Popen(command, env=full_env, cwd=ROOT, **popen)
    return subprocess.run(command, env=full_env, cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def toy_tasks(tmp_path_factory) -> Path:
    return write_toy_tasks(tmp_path_factory.mktemp("toy") / "tasks", {"train": 8, "val": 4, "test": 2})


def mlflow_run(run_dir: Path):
    """The MlflowClient of RUN's local store and the one run it holds (whose id tracking.json records)."""
    client = optional("mlflow.tracking").MlflowClient(f"sqlite:///{run_dir / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("gskill").experiment_id])
    assert len(runs) == 1, [run.info.run_id for run in runs]
    assert runs[0].info.run_id == json.loads((run_dir / "tracking.json").read_text())["mlflow"]["run_id"]
    return client, runs[0]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def expected_steps(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Each iteration's metrics as the run's own files state them: spend and outcome from
    iterations.jsonl; best validation mean and frontier from the candidates.jsonl records made by then."""
    derived = ("hash", "val_mean")  # properties of the record, written for readers
    candidates = [
        CandidateRecord(**{k: v for k, v in record.items() if k not in derived})
        for record in read_jsonl(run_dir / "candidates.jsonl")
    ]
    steps: dict[str, list[tuple[int, float]]] = {}
    for entry in read_jsonl(run_dir / "iterations.jsonl"):
        step = entry["iteration"]
        made = [c for c in candidates if c.iteration <= step]
        weights = frontier_weights(made)
        values = {
            "rollouts": entry["spend"]["metric_calls"],
            "spend_usd": entry["spend"]["cost_usd"],
            "accepted": 1.0 if entry["outcome"] == "accepted" else 0.0,
            "best_val": round(best_candidate(made).val_mean, 4),
            "frontier_size": len(weights),
            "frontier_coverage": sum(1 for members in fronts(made).values() if members & set(weights)),
        }
        for key, value in values.items():
            steps.setdefault(key, []).append((step, float(value)))
    return steps


def logged_steps(client, run_id: str, keys) -> dict[str, list[tuple[int, float]]]:
    return {key: sorted((m.step, m.value) for m in client.get_metric_history(run_id, key)) for key in keys}


def assert_no_secret(folder: Path) -> None:
    leaks = [path for path in folder.rglob("*") if path.is_file() and SECRET.encode() in path.read_bytes()]
    assert not leaks, leaks


def test_learn_tracked_in_mlflow_equals_the_runs_own_logs(toy_tasks, tmp_path):
    run_dir = tmp_path / "run"
    done = driver(
        "learn",
        "--tasks",
        str(toy_tasks),
        *LEARN,
        "--max-metric-calls",
        "40",
        "--out",
        str(run_dir),
        "--track",
        "mlflow",
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    client, run = mlflow_run(run_dir)
    assert run.info.status == "FINISHED"
    options = json.loads((run_dir / "learn.json").read_text())["options"]
    params = run.data.params
    for key in (
        "model",
        "reflection_model",
        "max_metric_calls",
        "minibatch",
        "validate_every",
        "parent_selection",
        "seed",
    ):
        assert params[key] == str(options[key]), key
    assert params["operator_mix.refine"] == str(options["operator_mix"]["refine"])
    assert (params["train_tasks"], params["val_tasks"], params["test_tasks"]) == ("8", "4", "2")

    expected = expected_steps(run_dir)
    assert len(expected["rollouts"]) >= 3 and any(value for _, value in expected["accepted"])
    assert logged_steps(client, run.info.run_id, expected) == expected
    evidence = json.loads((run_dir / "evidence.json").read_text())
    final = run.data.metrics
    assert final["final/best/val_mean"] == evidence["best"]["val_mean"] > 0
    assert final["final/spend/cost_usd"] == evidence["spend"]["cost_usd"]
    assert final["final/accepted"] == evidence["accepted"] and final["final/iterations"] == evidence["iterations"]

    downloaded = Path(client.download_artifacts(run.info.run_id, "", str(tmp_path / "artifacts")))
    for name in ("candidates.jsonl", "iterations.jsonl", "evidence.json", "best_skill.md"):
        assert (downloaded / name).read_text() == (run_dir / name).read_text(), name
    assert "<html" in (downloaded / "report.html").read_text()[:500].lower()
    records = read_jsonl(run_dir / "candidates.jsonl")
    texts = {path.name: path.read_text() for path in (downloaded / "candidates").iterdir()}
    assert texts == {f"{r['index']}-{r['operator']}.md": r["components"]["skill"] for r in records}
    assert len(texts) >= 2 and texts["0-seed.md"] == ""
    assert_no_secret(run_dir)  # the store, its artifacts and every other file of the run


def test_kill_9_then_resume_continues_the_same_mlflow_run(toy_tasks, tmp_path):
    run_dir = tmp_path / "run"
    args = ["learn", "--tasks", str(toy_tasks), *LEARN, "--max-metric-calls", "70", "--out", str(run_dir)]
    process = driver(
        *args,
        "--track",
        "mlflow",
        env={"TOY_ROLLOUT_DELAY_S": "0.08"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    record, deadline = run_dir / "tracking.json", time.monotonic() + 60
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if record.is_file() and json.loads(record.read_text())["mlflow"]["last_step"] >= 2:
                break
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()[-2000:]
    client, killed = mlflow_run(run_dir)
    assert killed.info.status == "RUNNING" and not (run_dir / "iterations.jsonl").exists()
    before = logged_steps(client, killed.info.run_id, ["rollouts", "best_val"])
    assert len(before["rollouts"]) >= 2

    done = driver("learn", "--resume", str(run_dir))  # no --track: tracking.json names the backend
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    client, resumed = mlflow_run(run_dir)
    assert resumed.info.run_id == killed.info.run_id and resumed.info.status == "FINISHED"
    expected = expected_steps(run_dir)
    logged = logged_steps(client, resumed.info.run_id, expected)
    assert logged == expected  # every step once, each value the final logs' value
    assert [step for step, _ in logged["rollouts"]] == list(range(1, len(expected["rollouts"]) + 1))
    assert len(expected["rollouts"]) > len(before["rollouts"])
    assert all(point in logged[key] for key, points in before.items() for point in points)
    assert_no_secret(run_dir)


def test_eval_and_transfer_log_their_summaries(toy_tasks, tmp_path):
    skill = tmp_path / "skill.md"
    skill.write_text("Bugs hide in `src/shop/pricing.py` and `src/shop/stock.py`.\n")
    eval_dir = tmp_path / "eval"
    common = ["--tasks", str(toy_tasks), "--split", "val", "--skill", str(skill), "--runs", "2", "--track", "mlflow"]
    done = driver("eval", *common, "--model", "scripted/needs-skill", "--out", str(eval_dir))
    assert done.returncode == 0, done.stderr[-3000:]
    client, run = mlflow_run(eval_dir)
    summary = json.loads((eval_dir / "summary.json").read_text())
    for key in ("resolve_rate", "resolved", "input_tokens", "output_tokens", "cost_usd", "mean_duration_s"):
        assert run.data.metrics[key] == summary[key], key
    assert summary["resolve_rate"] > 0 and summary["runs"] == 8
    assert run.data.params["model"] == "scripted/needs-skill" and run.data.params["task_count"] == "4"
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["summary.json"]

    again = driver("eval", *common[:-2], "--model", "scripted/needs-skill", "--out", str(eval_dir))  # a re-run
    assert again.returncode == 0, again.stderr[-3000:]
    assert mlflow_run(eval_dir)[1].info.run_id == run.info.run_id  # continues the same tracked run

    transfer_dir = tmp_path / "transfer"
    done = driver("transfer", *common, "--matrix", "mini:scripted/needs-skill#base=0", "--out", str(transfer_dir))
    assert done.returncode == 0, done.stderr[-3000:]
    client, run = mlflow_run(transfer_dir)
    cell = json.loads((transfer_dir / "transfer.json").read_text())["cells"][0]
    prefix = f"cells/{cell['folder']}"
    assert run.data.metrics[f"{prefix}/skill/resolve_rate"] == cell["skill"]["resolve_rate"] > 0
    assert run.data.metrics[f"{prefix}/baseline/resolve_rate"] == cell["baseline"]["resolve_rate"] == 0
    assert run.data.metrics[f"{prefix}/mcnemar_p"] == cell["mcnemar_p"]
    assert {a.path for a in client.list_artifacts(run.info.run_id)} == {"transfer.json", "transfer.md"}
    assert_no_secret(tmp_path)


def test_track_input_errors_are_one_line(toy_tasks, tmp_path, monkeypatch):
    done = driver("learn", "--tasks", str(toy_tasks), *LEARN, "--out", str(tmp_path / "run"), "--track", "neptune")
    assert_one_line_error(done, "--track takes mlflow[=URI] or wandb[=PROJECT]", "'neptune'")
    assert not (tmp_path / "run").exists()
    from gskill import tracking

    monkeypatch.setattr(tracking.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(GskillError, match=r"^--track wandb needs the wandb extra: pip install 'gskill\[wandb\]'$"):
        tracking.parse_track(["wandb"])


def test_an_unreachable_server_is_one_warning_and_the_run_goes_on(toy_tasks, tmp_path):
    run_dir = tmp_path / "run"
    fast_failure = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "3"}
    args = ["learn", "--tasks", str(toy_tasks), *LEARN, "--max-metric-calls", "20", "--out", str(run_dir)]
    done = driver(*args, "--track", "mlflow=http://127.0.0.1:9", env=fast_failure)
    assert done.returncode == 0, done.stderr[-3000:]
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning: tracking to mlflow failed")]
    assert len(warnings) == 1, done.stderr[-3000:]
    assert json.loads((run_dir / "evidence.json").read_text())["iterations"] >= 1


class FlakyTracker:
    """Logs until its `fail_at`-th call, then fails like a server gone down."""

    def __init__(self, fail_at: int) -> None:
        self.run_id, self.calls, self.fail_at = "flaky", [], fail_at

    def _call(self, *call) -> None:
        if len(self.calls) + 1 >= self.fail_at:
            raise ConnectionError("server down")
        self.calls.append(call)

    def log_params(self, params):
        self._call("params", params)

    def log_metrics(self, metrics, step):
        self._call("metrics", metrics, step)

    def log_artifact(self, path, folder):
        self._call("artifact", path.name)

    def last_step(self):
        return 0

    def close(self, status):
        self._call("close", status)


def test_a_backend_failing_mid_run_is_dropped_after_one_warning(tmp_path, capsys):
    from gskill.tracking import Tracking

    flaky, steady = FlakyTracker(fail_at=3), FlakyTracker(fail_at=99)
    with Tracking(tmp_path, {"flaky": flaky, "steady": steady}, {"flaky": {}, "steady": {}}) as tracking:
        tracking.params({"model": "m", "mix": {"refine": 0.6}, "key_env": None})
        for step in (1, 2, 3, 2):
            tracking.metrics({"rollouts": step * 10}, step=step)
    assert flaky.calls == [("params", {"model": "m", "mix.refine": "0.6"}), ("metrics", {"rollouts": 10}, 1)]
    assert steady.calls[1:] == [
        ("metrics", {"rollouts": 10}, 1),
        ("metrics", {"rollouts": 20}, 2),
        ("metrics", {"rollouts": 30}, 3),  # step 2 again (a replayed iteration) is not logged twice
        ("close", "FINISHED"),
    ]
    assert capsys.readouterr().err.count("warning: tracking to flaky failed (ConnectionError: server down)") == 1
    assert json.loads((tmp_path / "tracking.json").read_text())["steady"]["last_step"] == 3


def test_parameters_never_carry_a_secret_environment_value(monkeypatch):
    from gskill.tracking import flatten, scrub

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-123456")
    params = flatten({"model": "m", "note": "uses sk-ant-123456", "endpoint.m": {"api_base": "http://h:8000/v1"}})
    assert scrub(params) == {"model": "m", "endpoint.m.api_base": "http://h:8000/v1"}


class FakeWandbConfig(dict):
    def update(self, values, allow_val_change=False):
        super().update(values)


class FakeWandbRun:
    def __init__(self, fake: "FakeWandb", run_id: str) -> None:
        self.fake, self.id, self.config, self.summary = fake, run_id, FakeWandbConfig(), {}

    def log(self, metrics, step):
        self.fake.logged.append((step, metrics))

    def log_artifact(self, artifact):
        self.fake.artifacts.append(artifact)

    def finish(self, exit_code):
        self.fake.finished = exit_code


class FakeWandb:
    """The few wandb calls gskill makes, recorded."""

    def __init__(self) -> None:
        self.inits, self.logged, self.artifacts, self.runs = [], [], [], []
        self.__spec__ = ModuleSpec("wandb", None)  # what importlib asks of a module in sys.modules

    def init(self, **kwargs):
        self.inits.append(kwargs)
        self.runs.append(FakeWandbRun(self, kwargs["id"]))
        return self.runs[-1]

    def Settings(self, **kwargs):  # noqa: N802 - wandb's name
        return kwargs

    class Artifact:
        def __init__(self, name, type):  # noqa: A002 - wandb's signature
            self.name, self.type, self.files = name, type, []

        def add_file(self, path, name):
            self.files.append((Path(path).read_text(), name))


def test_wandb_runs_offline_without_a_key_and_resumes_by_id(tmp_path, monkeypatch):
    from gskill.tracking import open_tracking

    fake = FakeWandb()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    (tmp_path / "summary.json").write_text('{"resolve_rate": 0.5}')
    with open_tracking(["wandb"], tmp_path, "eval") as tracking:
        tracking.params({"model": "m"})
        tracking.metrics({"best_val": 0.5}, step=1)
        tracking.metrics({"resolve_rate": 0.5})
        tracking.artifact(tmp_path / "summary.json")
    first = fake.inits[0]
    assert first["mode"] == "offline" and first["dir"] == str(tmp_path) and first["resume"] == "allow"
    assert fake.logged == [(1, {"best_val": 0.5})] and fake.finished == 0
    assert fake.runs[0].config == {"model": "m"} and fake.runs[0].summary == {"resolve_rate": 0.5}
    assert fake.artifacts[0].files == [('{"resolve_rate": 0.5}', "summary.json")]
    monkeypatch.setenv("WANDB_API_KEY", "not-passed-on")
    with open_tracking([], tmp_path, "eval") as tracking:  # a re-run: tracking.json names the backend
        tracking.metrics({"best_val": 0.5}, step=1)
        tracking.metrics({"best_val": 0.75}, step=2)
    assert fake.inits[1]["id"] == first["id"] and fake.inits[1]["mode"] == "online"
    assert "not-passed-on" not in repr(fake.inits) and fake.logged[1:] == [(2, {"best_val": 0.75})]


def test_wandb_offline_run_is_written_into_the_run_folder(tmp_path, monkeypatch):
    optional("wandb")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    from gskill.tracking import open_tracking

    with open_tracking(["wandb"], tmp_path, "eval") as tracking:
        tracking.params({"model": "m"})
        tracking.metrics({"best_val": 0.5}, step=1)
    run_id = json.loads((tmp_path / "tracking.json").read_text())["wandb"]["run_id"]
    assert list((tmp_path / "wandb").glob(f"offline-run-*-{run_id}/run-{run_id}.wandb"))
    assert_no_secret(tmp_path)
