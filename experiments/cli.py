"""The ``livinglab`` command line. Errors print one line and exit with code 2; never a traceback."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from livinglab.errors import InputError, LivingLabError

APP = Path(__file__).resolve().parents[1] / "app.py"
METHOD_NAMES = ("prepost", "did", "event_study", "staggered", "synth", "bsts", "randomized")
DOSSIER_LANGUAGES = ("en", "zh-Hant")  # experiments.dossier_text.LANGUAGES, without importing it


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # library chatter is not for users; results carry warnings
    try:
        return int(args.handler(args) or 0)
    except LivingLabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if os.environ.get("LIVINGLAB_DEBUG"):
            raise
        print(
            f"internal error: {type(error).__name__}: {error} "
            "(set LIVINGLAB_DEBUG=1 to see the traceback)",
            file=sys.stderr,
        )
        return 1


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="livinglab", description="Evaluate smart-city pilots with evidence.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    simulate = commands.add_parser("simulate", help="write a pilot's simulated raw files")
    simulate.add_argument("pilot", help="pilot id, e.g. smart_bins")
    simulate.add_argument("--out", type=Path, required=True, help="directory to write into")
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument(
        "--effect",
        type=float,
        default=None,
        help="relative change of the primary metric (-0.3 = 30%% lower); the pilot's default",
    )
    simulate.set_defaults(handler=_simulate)

    register = commands.add_parser("register", help="register (lock) a trial spec")
    register.add_argument("spec", type=Path)
    register.set_defaults(handler=_register)

    evaluate = commands.add_parser("evaluate", help="run a trial's planned analysis on data")
    evaluate.add_argument("spec", type=Path)
    evaluate.add_argument("--data", type=Path, required=True, help="directory of raw files")
    evaluate.add_argument("--format", choices=("json", "text"), default="text")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.set_defaults(handler=_evaluate)

    rerun = commands.add_parser(
        "rerun",
        help="recompute a tracked run and compare it with what it recorded",
        description="Recompute a tracked run from its recorded spec, data, code version and "
        "seed, without tracking anything. Exit code 0 when every number matches the recorded "
        "estimate exactly, 1 when it does not, 2 on errors.",
    )
    rerun.add_argument("run_id", help="the tracked run's id")
    rerun.add_argument("--format", choices=("json", "text"), default="text")
    rerun.set_defaults(handler=_rerun)

    report = commands.add_parser(
        "report",
        help="write a trial's evidence dossier: committee brief and technical appendix",
    )
    report.add_argument("trial_id", help="a registered trial's id")
    report.add_argument("--lang", choices=DOSSIER_LANGUAGES, default="en")
    report.add_argument("--format", choices=("pdf", "html"), default="pdf", dest="fmt")
    report.add_argument("--out", type=Path, required=True, help="file to write")
    report.set_defaults(handler=_report)

    estimate = commands.add_parser(
        "estimate", help="estimate an effect from any CSV or Parquet table (no trial needed)"
    )
    estimate.add_argument("data", type=Path, help="a .csv or .parquet file")
    estimate.add_argument("--method", required=True, choices=METHOD_NAMES)
    estimate.add_argument("--outcome", required=True, metavar="COL")
    estimate.add_argument("--time", metavar="COL")
    estimate.add_argument("--unit", metavar="COL")
    timing = estimate.add_mutually_exclusive_group(required=True)
    timing.add_argument("--cohort", metavar="COL", help="first treated period; empty/0 = never")
    timing.add_argument("--treated", metavar="COL", help="0/1 treated indicator")
    start = estimate.add_mutually_exclusive_group()
    start.add_argument("--post", metavar="COL", help="0/1 after-start indicator")
    start.add_argument("--treatment-start", metavar="VALUE", help="first treated time value")
    estimate.add_argument("--cluster", metavar="COL")
    estimate.add_argument("--covariates", metavar="A,B", default="")
    estimate.add_argument("--control-group", choices=("never", "notyet"))
    estimate.add_argument("--weights", metavar="COL")
    estimate.add_argument("--alpha", type=float, default=0.05)
    estimate.add_argument("--seed", type=int, default=0)
    estimate.add_argument("--format", choices=("json", "text"), default="json")
    estimate.set_defaults(handler=_estimate)

    demo = commands.add_parser("demo", help="seed the demo portfolio into LIVINGLAB_HOME")
    demo.set_defaults(handler=_demo)

    app = commands.add_parser("app", help="serve the app at http://localhost:8501")
    app.add_argument("--port", type=int, default=8501)
    app.set_defaults(handler=_app)
    _add_governance_commands(commands)
    return parser


def _add_governance_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
    """``user`` (the local accounts store) and ``audit`` (the audit trail)."""
    user = commands.add_parser("user", help="manage the local accounts store")
    user_commands = user.add_subparsers(dest="user_command", required=True, parser_class=_Parser)
    add = user_commands.add_parser("add", help="add a user")
    add.add_argument("username")
    add.add_argument(
        "--role",
        action="append",
        required=True,
        dest="roles",
        help="owner, evaluator, committee or admin; repeat for several",
    )
    add.add_argument("--name", default="", help="display name (default: the username)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(handler=_user_add)
    remove = user_commands.add_parser("remove", help="remove a user")
    remove.add_argument("username")
    remove.set_defaults(handler=_user_remove)
    listing = user_commands.add_parser("list", help="list users and their roles")
    listing.add_argument("--format", choices=("text", "json"), default="text")
    listing.set_defaults(handler=_user_list)
    passwd = user_commands.add_parser("passwd", help="set a user's password")
    passwd.add_argument("username")
    passwd.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    passwd.set_defaults(handler=_user_passwd)

    audit = commands.add_parser("audit", help="read, export and verify the audit trail")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True, parser_class=_Parser)
    entries = audit_commands.add_parser("list", help="audit entries, newest first")
    entries.add_argument("--action")
    entries.add_argument("--actor")
    entries.add_argument("--limit", type=int)
    entries.add_argument("--format", choices=("text", "json"), default="text")
    entries.set_defaults(handler=_audit_list)
    export = audit_commands.add_parser("export", help="every entry, oldest first")
    export.add_argument("--format", choices=("csv", "json"), required=True)
    export.add_argument("--out", type=Path, help="file to write (default: standard output)")
    export.set_defaults(handler=_audit_export)
    verify = audit_commands.add_parser("verify", help="check the audit trail's hash chain")
    verify.set_defaults(handler=_audit_verify)


def _simulate(args: argparse.Namespace) -> None:
    from pilots.registry import get_pilot

    pilot = get_pilot(args.pilot)
    effect = pilot.default_effect if args.effect is None else args.effect
    truth = pilot.simulator(args.out, seed=args.seed, effect=effect)
    print(json.dumps(truth, indent=2))


def _register(args: argparse.Namespace) -> None:
    from experiments.spec import load_spec
    from experiments.store import TrialStore, livinglab_home

    spec, text = load_spec(args.spec)
    registration, created = TrialStore(livinglab_home()).register(spec, text)
    state = "registered" if created else "already registered (unchanged)"
    print(f"{spec.id}: {state}; spec hash {registration.spec_hash}")


def _evaluate(args: argparse.Namespace) -> None:
    from experiments.analysis import evaluate_trial, require_data_dir
    from experiments.spec import load_spec
    from experiments.store import TrialStore, livinglab_home
    from experiments.tracking import Tracker

    home = livinglab_home()
    spec, text = load_spec(args.spec)
    require_data_dir(args.data)
    registration, created = TrialStore(home).register(spec, text)
    if created:
        print(
            f"{spec.id}: registered before analysis; spec hash {registration.spec_hash}",
            file=sys.stderr,
        )
    evaluation = evaluate_trial(registration, args.data, Tracker(home), seed=args.seed)
    if args.format == "json":
        print(json.dumps(evaluation.to_dict(), indent=2))
    else:
        print(_as_text(evaluation.to_dict()))


def _rerun(args: argparse.Namespace) -> int:
    from experiments.audit import AuditLog, operator
    from experiments.rerun import as_text, rerun_check
    from experiments.store import TrialStore, livinglab_home
    from experiments.tracking import Tracker

    home = livinglab_home()
    check = rerun_check(args.run_id, TrialStore(home), Tracker(home))
    result = check.to_dict()
    AuditLog(home).record(
        operator(), "rerun", result["trial"], {"run_id": args.run_id, "match": check.match}
    )
    print(json.dumps(result, indent=2) if args.format == "json" else as_text(check))
    return 0 if check.match else 1


def _report(args: argparse.Namespace) -> None:
    from experiments.audit import AuditLog, operator
    from experiments.dossier import dossier_content
    from experiments.dossier_render import render_html, render_pdf_with_pages
    from experiments.store import livinglab_home

    if not args.out.parent.is_dir():
        raise InputError(f"--out: directory {args.out.parent} does not exist")
    home = livinglab_home()
    dossier = dossier_content(home, args.trial_id, args.lang)
    if args.fmt == "pdf":
        data, pages = render_pdf_with_pages(dossier)
        told = f"wrote {args.out} ({pages} pages)"
    else:
        data, told = render_html(dossier).encode("utf-8"), f"wrote {args.out}"
    args.out.write_bytes(data)
    AuditLog(home).record(
        operator(), "report", args.trial_id, {"lang": args.lang, "format": args.fmt}
    )
    print(told)


def _estimate(args: argparse.Namespace) -> None:
    from evaluation.methods import run_method
    from evaluation.tabular import Columns, panel_from_table, require_design
    from experiments.tables import read_table

    source = str(args.data)
    columns = Columns(
        outcome=args.outcome,
        time=args.time,
        unit=args.unit,
        cohort=args.cohort,
        treated=args.treated,
        post=args.post,
        treatment_start=args.treatment_start,
        cluster=args.cluster,
        covariates=tuple(c.strip() for c in args.covariates.split(",") if c.strip()),
        weights=args.weights,
    )
    panel = panel_from_table(read_table(args.data), columns, source)
    require_design(panel, args.method, source)
    options: dict[str, str] = {}
    if args.cohort and args.method == "did":
        options["model"] = "twfe"  # with cohorts, did is TWFE on "treated and time >= cohort"
    if args.control_group:
        if args.method != "staggered":
            raise InputError("--control-group applies only to --method staggered")
        options["control_group"] = args.control_group
    estimate = run_method(args.method, panel, alpha=args.alpha, seed=args.seed, **options)
    result = estimate.to_dict()
    if args.format == "json":
        print(json.dumps(result, indent=2))
        return
    print(f"{result['method']}: {result['estimand']}")
    if result["status"] != "ok":
        print(f"cannot estimate: {result['message']}")
        return
    print(
        f"effect {result['effect']:.4g} (se {result['se']:.4g}), "
        f"{1 - args.alpha:.0%} CI [{result['ci_low']:.4g}, {result['ci_high']:.4g}], "
        f"p = {result['p_value']:.4g}; {result['n_obs']} observations, {result['n_units']} "
        f"units, {result['n_treated']} treated"
    )
    for warning in result["warnings"]:
        print(f"warning: {warning}")


def _demo(args: argparse.Namespace) -> None:
    from experiments.accounts import DEMO_USERS
    from experiments.demo import seed_demo
    from experiments.store import livinglab_home

    home = livinglab_home()
    trials = seed_demo(
        home, lambda fraction, message: print(f"[{fraction:4.0%}] {message}", file=sys.stderr)
    )
    print(f"demo portfolio in {home}: {', '.join(trials)}")
    users = ", ".join(f"{name} / {password}" for name, password, _ in DEMO_USERS)
    print(f"demo users (username / password): {users}")


def _user_add(args: argparse.Namespace) -> None:
    from experiments.accounts import Accounts
    from experiments.audit import operator
    from experiments.store import livinglab_home

    password = _new_password(args.username, from_stdin=args.password_stdin)
    user = Accounts(livinglab_home()).add(
        args.username, password, args.roles, display_name=args.name, actor=operator()
    )
    print(f"added {user.username} (roles: {', '.join(user.roles)})")


def _user_remove(args: argparse.Namespace) -> None:
    from experiments.accounts import Accounts
    from experiments.audit import operator
    from experiments.store import livinglab_home

    Accounts(livinglab_home()).remove(args.username, actor=operator())
    print(f"removed {args.username}")


def _user_list(args: argparse.Namespace) -> None:
    from dataclasses import asdict

    from experiments.accounts import Accounts
    from experiments.store import livinglab_home

    users = Accounts(livinglab_home()).users()
    if args.format == "json":
        print(json.dumps([asdict(user) for user in users], indent=2))
        return
    if not users:
        print("no users yet: add one with `livinglab user add USERNAME --role admin`")
    for user in users:
        print(f"{user.username:<24} {', '.join(user.roles):<32} {user.display_name}")


def _user_passwd(args: argparse.Namespace) -> None:
    from experiments.accounts import Accounts
    from experiments.audit import operator
    from experiments.store import livinglab_home

    accounts = Accounts(livinglab_home())
    accounts.existing(args.username)  # before asking for a password in vain
    password = _new_password(args.username, from_stdin=args.password_stdin)
    accounts.set_password(args.username, password, actor=operator())
    print(f"password changed for {args.username}")


def _new_password(username: str, *, from_stdin: bool) -> str:
    """One line of standard input, or typed twice at a hidden prompt."""
    import getpass

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise InputError("--password-stdin: standard input held no password")
        return password
    password = getpass.getpass(f"New password for {username}: ")
    if getpass.getpass("Repeat it: ") != password:
        raise InputError("the two passwords do not match; nothing changed")
    return password


def _audit_list(args: argparse.Namespace) -> None:
    from experiments.audit import AuditLog
    from experiments.store import livinglab_home

    entries = AuditLog(livinglab_home()).entries(
        action=args.action, actor=args.actor, limit=args.limit
    )
    if args.format == "json":
        print(json.dumps([entry.to_dict() for entry in entries], indent=2, ensure_ascii=False))
        return
    for entry in entries:
        details = json.dumps(entry.details, ensure_ascii=False) if entry.details else ""
        print(
            f"{entry.seq:>6} {entry.at} {entry.actor:<20} {entry.action:<13} {entry.target} "
            f"{details}".rstrip()
        )


def _audit_export(args: argparse.Namespace) -> None:
    from experiments.audit import AuditLog
    from experiments.store import livinglab_home

    text = AuditLog(livinglab_home()).export(args.format)
    if args.out is None:
        sys.stdout.write(text)
        return
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote the audit trail to {args.out}")


def _audit_verify(args: argparse.Namespace) -> int:
    from experiments.audit import AuditLog
    from experiments.store import livinglab_home

    log = AuditLog(livinglab_home())
    problems = log.verify()
    if not problems:
        print(f"audit trail intact ({log.count()} entries)")
        return 0
    for problem in problems:
        print(problem)
    print(f"error: the audit trail was tampered with: {len(problems)} problem(s)", file=sys.stderr)
    return 2


def _app(args: argparse.Namespace) -> int:
    from experiments.store import livinglab_home

    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.port",
        str(args.port),
        "--server.headless",
        "true",
    ]
    # Streamlit reads .streamlit/config.toml from its working directory, the project root; the
    # store stays the one this command resolves from where it was started.
    environment = {**os.environ, "LIVINGLAB_HOME": str(livinglab_home())}
    return subprocess.call(command, cwd=APP.parent, env=environment)


def _as_text(report: dict[str, Any]) -> str:
    lines = [f"Trial {report['trial']} (analysis {report['analysis']})", ""]
    header = f"{'metric':<30} {'role':<10} {'method':<10} {'effect':>10} {'95% CI':>22} {'p':>7}"
    lines += [header, "-" * len(header)]
    lines += [_result_line(row) for row in [*report["results"], *report.get("robustness", [])]]
    lines += [f"Warning: {warning}" for warning in report.get("warnings", [])]
    recommended = report.get("recommended_methods") or {}
    if recommended:
        robustness = ", ".join(recommended["robustness"]) or "none"
        lines += [
            "",
            f"Recommended for this design: {recommended['primary']} (robustness: {robustness})",
        ]
        lines += [f"  - {reason}" for reason in recommended["reasons"]]
    health = report["data_health"]
    lines += [
        "",
        f"Data: {health['rows_read']:,} rows read = {health['rows_accepted']:,} accepted "
        f"+ {health['rows_quarantined']:,} quarantined",
    ]
    for feed in health.get("coverage", []):
        mismatch = feed["sensor_ratio_mismatch"]
        lines.append(
            f"  {feed['label']}: {feed['coverage']:.1%} of expected readings; "
            f"{'MISMATCH: ' if mismatch['flag'] else ''}{mismatch['message']}"
        )
    calendar = health.get("calendar", {})
    if calendar:
        lines.append(
            f"  Calendar: {calendar['public_holidays']} public holiday(s), "
            f"{calendar['severe_weather_days']} severe-weather day(s); "
            f"{calendar['days_excluded']} day(s) excluded"
        )
    return "\n".join(lines)


def _result_line(row: dict[str, Any]) -> str:
    start = f"{row['metric']:<30} {row['role']:<10} {row['method']:<10} "
    if row["status"] == "cannot_estimate":
        return start + f"cannot estimate: {row['message']}"
    if row["status"] == "point_only":
        return start + f"{row['effect']:>10.3g}  no interval: {row['message']}"
    interval = f"[{row['ci_low']:.3g}, {row['ci_high']:.3g}]"
    p_value = "<0.001" if row["p_value"] < 0.001 else f"{row['p_value']:.3f}"
    return start + f"{row['effect']:>10.3g} {interval:>22} {p_value:>7}"


if __name__ == "__main__":
    raise SystemExit(main())
