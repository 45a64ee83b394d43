"""Ad-hoc analyses of a registered trial: chosen metrics, methods, window and options, tracked.

The planned analysis (``experiments.analysis.evaluate_trial``) runs what the registration says.
An evaluator also needs to look further: another method on a secondary metric, a narrower window,
other options, or the same analysis again on new data. Each (metric, method) becomes one MLflow
run tagged like the planned ones plus ``kind = "adhoc"``, so that the committee's pages, which
read the planned analysis, are never fed an exploratory number. What departs from the
registration (a narrower window, a method not registered for the metric, other options for the
planned method) is tagged ``deviation``; such runs are exploratory and listed as deviations on
the trial page.
"""

from __future__ import annotations

import ast
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from evaluation.methods import METHODS, method_config, run_method
from evaluation.result import Estimate
from evaluation.router import Recommendation, describe, recommend
from experiments.analysis import require_data_dir
from experiments.audit import AuditLog, operator
from experiments.demo import demo_data_dir
from experiments.provenance import data_hash
from experiments.run_record import finish_run, run_tags
from experiments.spec import TrialSpec, trial_pilot
from experiments.store import Registration
from experiments.tracking import (
    Tracker,
)
from experiments.trial_data import TrialData, metric_panel, prepare_trial_data
from livinglab.errors import LivingLabError, SpecError, require_one_of
from pilots.contract import MetricDefinition

ADHOC = "adhoc"
Progress = Callable[[float, str], None]
MethodOptions = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class AdhocResult:
    """One tracked (metric, method) of an ad-hoc analysis; ``error`` is set when it failed."""

    definition: MetricDefinition
    role: str
    method: str
    estimate: Estimate | None
    run_id: str
    error: str = ""


@dataclass(frozen=True)
class AdhocAnalysis:
    trial_id: str
    analysis_id: str
    window: tuple[date, date]
    deviations: tuple[str, ...]
    results: tuple[AdhocResult, ...]


@dataclass(frozen=True)
class RerunRequest:
    """What a past run was, read back from its tags and params, to run it again."""

    trial_id: str
    run_id: str
    data_dir: Path
    metric: str
    method: str
    window: tuple[date, date] | None
    seed: int
    options: dict[str, Any]


def method_summaries() -> dict[str, str]:
    """Every method by name with what it does, for choosing among them."""
    return {name: method.summary for name, method in METHODS.items()}


def method_option_names(method: str) -> list[str]:
    return METHODS[method].options() if method in METHODS else []


def default_data_dir(home: Path, spec: TrialSpec) -> Path:
    """Where ``livinglab demo`` writes the trial's pilot data."""
    return demo_data_dir(home, spec.pilot)


def analysis_window(spec: TrialSpec, window: tuple[date, date] | None) -> tuple[date, date]:
    """``window`` checked against the registration: inside it, with a before and an after."""
    if window is None:
        return spec.window
    first, last = window
    registered = f"{spec.window[0]}..{spec.window[1]}"
    if not spec.pre[0] <= first <= spec.pre[1]:
        raise SpecError(
            f"window: starts {first}; it must start between {spec.pre[0]} and {spec.pre[1]} so "
            f"that it lies inside the registered window {registered} and keeps a before-period"
        )
    if not spec.post[0] <= last <= spec.post[1]:
        raise SpecError(
            f"window: ends {last}; it must end between {spec.post[0]} and {spec.post[1]} so that "
            f"it lies inside the registered window {registered} and keeps an after-period"
        )
    return first, last


def windowed(spec: TrialSpec, window: tuple[date, date]) -> TrialSpec:
    """``spec`` read over ``window`` (from ``analysis_window``): the data an analysis sees."""
    return replace(spec, pre=(window[0], spec.pre[1]), post=(spec.post[0], window[1]))


def window_deviation(spec: TrialSpec, window: tuple[date, date]) -> str | None:
    if window == spec.window:
        return None
    return (
        f"window {window[0]}..{window[1]} is narrower than the registered "
        f"{spec.window[0]}..{spec.window[1]}"
    )


def parse_options(text: str, method: str, *, alpha: float = 0.05) -> dict[str, Any]:
    """``name = value`` pairs, one a line or separated by commas, checked against ``method``.

    Values are read as Python literals (``999``, ``0.5``, ``True``, ``"twfe"``); anything else is
    kept as text, so ``model = twfe`` works too.
    """
    options: dict[str, Any] = {}
    for item in (part.strip() for line in text.splitlines() for part in line.split(",")):
        if not item:
            continue
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            raise SpecError(
                f"options for {method!r}: {item!r} is not written name = value "
                f"(e.g. {_example(method)})"
            )
        options[name.strip()] = _literal(value.strip())
    method_config(method, alpha=alpha, **options)
    return options


def format_options(options: Mapping[str, Any], *, sep: str = "\n") -> str:
    """The text ``parse_options`` reads back."""
    return sep.join(f"{name} = {value!r}" for name, value in options.items())


def default_options(spec: TrialSpec, method: str) -> dict[str, Any]:
    """The registered options for the planned method; none for any other."""
    return dict(spec.analysis.options) if method == spec.planned_method else {}


def registered_method(spec: TrialSpec, metric: str, method: str) -> bool:
    """Whether the registration plans ``method`` for ``metric``: the planned method for every
    metric, and the robustness methods for the primary one."""
    robustness = spec.analysis.robustness if metric == spec.primary.name else ()
    return method == spec.planned_method or method in robustness


def suggest_method(registration: Registration, data_dir: Path) -> Recommendation:
    """The router's choice for the trial's design, read from its primary metric's panel."""
    spec = registration.spec
    require_data_dir(data_dir)
    pilot = trial_pilot(spec)
    data = prepare_trial_data(spec, pilot.adapter(data_dir), data_dir)
    panel, _ = metric_panel(data, pilot.metric(spec.primary.name), spec.planned_method)
    if not panel.frame.height:
        raise SpecError(
            f"{data_dir}: the primary metric {spec.primary.name!r} has no values in the "
            f"registered window; check that this is the trial's data directory"
        )
    return recommend(describe(panel, randomized=spec.planned_method == "randomized"))


def run_analysis(
    registration: Registration,
    data_dir: Path,
    tracker: Tracker,
    metrics: Sequence[str],
    methods: Sequence[str],
    window: tuple[date, date] | None = None,
    options: MethodOptions | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    *,
    rerun_of: str | None = None,
    actor: str | None = None,
) -> AdhocAnalysis:
    """Run every method in ``methods`` on every metric in ``metrics``; one tracked run each.

    ``options`` maps a method to its options; a method not in it runs with its defaults (the
    registered options for the planned method). Everything is checked before the first run
    starts, so a typing mistake leaves no half-done analysis behind.
    """
    spec = registration.spec
    report = progress or (lambda fraction, message: None)
    chosen_window = analysis_window(spec, window)
    roles = {metric.name: metric.role for metric in spec.metrics}
    if not metrics or not methods:
        raise SpecError("choose at least one metric and one method")
    for name in metrics:
        require_one_of("metric", name, roles)
    for method in methods:
        require_one_of("method", method, METHODS)
    method_options = {
        method: dict((options or {}).get(method, default_options(spec, method)))
        for method in methods
    }
    for method, chosen in method_options.items():
        try:
            method_config(method, alpha=spec.alpha, **chosen)
        except SpecError as exc:
            raise SpecError(f"options for {method!r}: {exc}") from exc
    require_data_dir(data_dir)

    report(0.0, "Reading the trial's data")
    pilot = trial_pilot(spec)
    data = prepare_trial_data(windowed(spec, chosen_window), pilot.adapter(data_dir), data_dir)
    deviation = window_deviation(spec, chosen_window)
    shared = _Shared(
        registration=registration,
        data=data,
        data_dir=data_dir.resolve(),
        tracker=tracker,
        analysis_id=uuid.uuid4().hex[:12],
        data_fingerprint=data_hash(data_dir),
        seed=seed,
        window=chosen_window,
        deviation=deviation,
        rerun_of=rerun_of,
    )
    jobs = [(name, method) for name in metrics for method in methods]
    results = []
    for index, (name, method) in enumerate(jobs):
        definition = pilot.metric(name)
        report(
            (index + 1) / (len(jobs) + 1),
            f"{definition.label} · {method} ({index + 1} of {len(jobs)})",
        )
        results.append(shared.run(definition, roles[name], method, method_options[method]))
    report(1.0, "Analysis done")
    AuditLog(tracker.home).record(
        actor or operator(),
        "analyse",
        spec.id,
        {
            "analysis": shared.analysis_id,
            "kind": ADHOC,
            "metrics": list(metrics),
            "methods": list(methods),
            **({"rerun_of": rerun_of} if rerun_of else {}),
        },
    )
    return AdhocAnalysis(
        spec.id,
        shared.analysis_id,
        chosen_window,
        (deviation,) if deviation else (),
        tuple(results),
    )


def rerun_request(run_id: str, tags: Mapping[str, str], params: Mapping[str, str]) -> RerunRequest:
    """How to run a past run again: its data directory, metric, method, window, seed, options."""
    missing = [name for name in ("trial", "metric", "method") if not tags.get(name)]
    if missing or "data_dir" not in params:
        absent = [*missing, *(["data_dir"] if "data_dir" not in params else [])]
        raise SpecError(
            f"run {run_id} cannot be re-run: it does not record {', '.join(absent)}; only "
            "analyses run by Living Lab can be re-run"
        )
    return RerunRequest(
        trial_id=tags["trial"],
        run_id=run_id,
        data_dir=Path(params["data_dir"]),
        metric=tags["metric"],
        method=tags["method"],
        window=_window(params.get("window"), run_id),
        seed=int(tags.get("seed") or 0),
        options={
            name.removeprefix("option."): _literal(value)
            for name, value in params.items()
            if name.startswith("option.")
        },
    )


def rerun(
    registration: Registration,
    request: RerunRequest,
    tracker: Tracker,
    progress: Progress | None = None,
    *,
    data_dir: Path | None = None,
    actor: str | None = None,
) -> AdhocAnalysis:
    """Run a past run again, on its own data directory unless ``data_dir`` is given."""
    if request.trial_id != registration.spec.id:
        raise SpecError(
            f"run {request.run_id} belongs to trial {request.trial_id!r}, "
            f"not {registration.spec.id!r}"
        )
    return run_analysis(
        registration,
        data_dir or request.data_dir,
        tracker,
        [request.metric],
        [request.method],
        window=request.window,
        options={request.method: request.options},
        seed=request.seed,
        progress=progress,
        rerun_of=request.run_id,
        actor=actor,
    )


@dataclass(frozen=True)
class _Shared:
    """What every tracked run of one ad-hoc analysis shares."""

    registration: Registration
    data: TrialData
    data_dir: Path
    tracker: Tracker
    analysis_id: str
    data_fingerprint: str
    seed: int
    window: tuple[date, date]
    deviation: str | None
    rerun_of: str | None

    def run(
        self, definition: MetricDefinition, role: str, method: str, chosen: dict[str, Any]
    ) -> AdhocResult:
        spec = self.registration.spec
        try:
            panel, derived = metric_panel(self.data, definition, method)
        except LivingLabError as error:
            panel, derived, failure = None, {}, error
        else:
            failure = None
        options = derived | chosen
        run_id = self.tracker.start(
            spec.id,
            spec.pilot,
            f"{definition.name} · {method}",
            self._tags(definition, role, method, options, derived),
        )
        try:
            if failure is not None or panel is None:
                raise failure or SpecError(f"no panel for {definition.name!r}")
            estimate = run_method(method, panel, alpha=spec.alpha, seed=self.seed, **options)
            finish_run(
                self.tracker,
                run_id,
                self.registration,
                definition,
                estimate,
                panel,
                data=self.data,
                data_dir=self.data_dir,
                window=self.window,
                options=options,
            )
        except LivingLabError as error:
            self.tracker.fail(run_id, error)
            return AdhocResult(definition, role, method, None, run_id, str(error))
        except Exception as error:
            self.tracker.fail(run_id, error)
            raise
        return AdhocResult(definition, role, method, estimate, run_id)

    def _tags(
        self,
        definition: MetricDefinition,
        role: str,
        method: str,
        options: dict[str, Any],
        derived: dict[str, Any],
    ) -> dict[str, str]:
        """The planned runs' tags, plus ``kind``, any deviation and the run this one repeats."""
        spec = self.registration.spec
        deviations = [self.deviation] if self.deviation else []
        if not registered_method(spec, definition.name, method):
            deviations.append(f"method {method} is not registered for {definition.name}")
        registered = derived | default_options(spec, method)
        if method == spec.planned_method and options != registered:
            deviations.append(
                f"options {format_options(options, sep=', ') or 'none'} differ from the "
                f"registered {format_options(registered, sep=', ') or 'none'}"
            )
        return {
            **run_tags(
                self.registration,
                definition,
                role,
                method,
                data_fingerprint=self.data_fingerprint,
                seed=self.seed,
                analysis_id=self.analysis_id,
            ),
            "kind": ADHOC,
            **({"deviation": "; ".join(deviations)} if deviations else {}),
            **({"rerun_of": self.rerun_of} if self.rerun_of else {}),
        }


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _window(text: str | None, run_id: str) -> tuple[date, date] | None:
    if not text:
        return None
    first, _, last = text.partition("..")
    try:
        return date.fromisoformat(first), date.fromisoformat(last)
    except ValueError as exc:
        raise SpecError(f"run {run_id}: its window {text!r} is not FIRST..LAST") from exc


def _example(method: str) -> str:
    names = method_option_names(method)
    return f"{names[0]} = …" if names else "leave it empty: the method takes no options"
