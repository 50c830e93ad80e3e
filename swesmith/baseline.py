"""The baseline stage: the snapshot's whole suite (`validate.Baseline`), and what loading each test unit costs.

Reads the store's `baseline:IMAGE:RUNS` and `collect-seconds:IMAGE` entries, else measures in the
sandbox it is handed and writes them (with `OUT/logs/baseline.log`): the snapshot's results do not
change, so a resumed run measures nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from languages.base import Profile
from swesmith.store import write_log
from swesmith.validate import Baseline

if TYPE_CHECKING:
    from swesmith.pipeline import MiningRun


def snapshot_baseline(run: MiningRun, sandbox) -> Baseline:
    """The snapshot's suite, cached per image."""
    store, image, options = run.store, run.image, run.options
    cached = store.get_meta(f"baseline:{image}:{options.runs}")
    if cached and "run_seconds" not in cached:  # cached before per-file times were recorded
        cached = None
    if cached:
        return Baseline.from_json(cached)
    baseline = Baseline.measure(sandbox, options.test_timeout_s * 4, language=options.language)
    store.set_meta(f"baseline:{image}:{options.runs}", baseline.to_json())
    write_log(options.out / "logs" / "baseline.log", baseline.log)
    return baseline


def collection_costs(run: MiningRun, sandbox, baseline: Baseline) -> dict[str, float]:
    """What a run of each test unit costs beyond its tests (their times are the baseline's), cached per image."""
    collect_seconds = run.store.get_meta(f"collect-seconds:{run.image}")
    if collect_seconds is None:
        units = sorted(baseline.by_file)
        collect_seconds = measure_collection(sandbox, run.profile, units, run.options.test_timeout_s)
        run.store.set_meta(f"collect-seconds:{run.image}", collect_seconds)
    return collect_seconds


def measure_collection(sandbox, profile: Profile, units: list[str], timeout: float) -> dict[str, float]:
    """Seconds the test runner needs to load each unit alone (startup included); {} when the
    language's runner has no such step (then every unit is assumed to cost a second)."""
    seconds: dict[str, float] = {}
    if profile.test_spec.collect_command is None:
        return seconds
    for unit in units:
        result = sandbox.exec(profile.test_spec.collect_command(unit), timeout=timeout)
        seconds[unit] = round(result.duration_s, 2)
    return seconds
