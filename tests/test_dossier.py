"""The evidence dossier of a really analysed trial, in both languages and both formats."""

from __future__ import annotations

import html
import io
import re
import string
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from evaluation.diagnostics import CHECKS
from evaluation.methods import METHODS
from evaluation.result import Estimate
from experiments import cli
from experiments.analysis import evaluate_trial
from experiments.audit import AuditLog
from experiments.decisions import DecisionLog
from experiments.dossier import build_dossier, dossier_content, dossier_from_report
from experiments.dossier_format import SUPPRESSED, suppress_small_counts
from experiments.dossier_render import render_html, render_pdf_with_pages
from experiments.dossier_text import LANGUAGES, TEXT
from experiments.portfolio import MetricEvidence, TrialEvidence, trial_evidence
from experiments.spec import load_spec, trial_pilot
from experiments.store import Registration, TrialStore
from experiments.tracking import Tracker
from experiments.trial_decision import decision_rule_text
from experiments.trial_report import TrialReport
from livinglab.errors import InputError, UnknownNameError
from tests.conftest import PROJECT, SMART_BINS_SPEC

TRIAL = "smart-bins-2026"
SHUTTLE_SPEC = PROJECT / "experiments" / "trials" / "autonomous_vehicles.toml"
CHINESE_HEADINGS = ("證據檔案", "委員會簡報", "技術附錄", "診斷檢查清單", "已登記的決策規則")


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory, smart_bins_data: Path) -> Path:
    """A store with the smart-bins trial registered and analysed once."""
    store = tmp_path_factory.mktemp("dossier") / "home"
    spec, text = load_spec(SMART_BINS_SPEC)
    registration, _ = TrialStore(store).register(spec, text)
    evaluate_trial(registration, smart_bins_data, Tracker(store))
    return store


@pytest.fixture(scope="module")
def rendered(analysed: Path) -> dict[str, tuple[Any, bytes, int, str]]:
    """Each language's dossier with its PDF, page count and HTML, rendered once."""
    out = {}
    for lang in LANGUAGES:
        dossier = dossier_content(analysed, TRIAL, lang)
        pdf, pages = render_pdf_with_pages(dossier)
        out[lang] = (dossier, pdf, pages, render_html(dossier))
    return out


@pytest.fixture(scope="module")
def evidence(analysed: Path) -> TrialEvidence:
    return trial_evidence(analysed, TRIAL)


@pytest.fixture(scope="module")
def numbers(evidence: TrialEvidence) -> list[str]:
    """The primary effect and its interval as the dossier prints them (three significant
    digits and a sign), the spec hash's prefix and every run id of the latest analysis."""
    primary = next(m for m in evidence.metrics if m.role.role == "primary")
    estimate = primary.estimate
    return [
        f"{estimate.effect:+.3g}",
        f"{estimate.ci_low:+.3g}",
        f"{estimate.ci_high:+.3g}",
        evidence.registration.spec_hash[:12],
        *(m.run_id for m in evidence.metrics),
        *(run_id for _, _, run_id in evidence.robustness),
    ]


def pdf_text(pdf: bytes) -> str:
    """The PDF's text with line breaks removed (a wrapped line may split a number)."""
    reader = PdfReader(io.BytesIO(pdf))
    return "".join(page.extract_text() for page in reader.pages).replace("\n", "")


# --- the phrases -------------------------------------------------------------------------------


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_both_languages_have_the_same_phrases_with_the_same_fields() -> None:
    english, chinese = TEXT["en"], TEXT["zh-Hant"]
    assert set(english) == set(chinese)
    assert {key: placeholders(english[key]) for key in english} == {
        key: placeholders(chinese[key]) for key in english
    }
    for name in METHODS:
        assert f"method.{name}" in english
        assert f"assumptions.{name}" in english
    for name in [*CHECKS, "data_health"]:
        assert f"check.{name}" in english
        assert f"null.{name}" in english
    assert cli.DOSSIER_LANGUAGES == LANGUAGES


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (6.2, "passengers per vehicle-hour", SUPPRESSED),
        (0, "people", SUPPRESSED),
        (9.99, "Residents", SUPPRESSED),
        (10, "passengers per vehicle-hour", "10"),
        (12.4, "passengers per vehicle-hour", "12.4"),
        (3, "collections per bin-week", "3"),
        (3, "user-hours", SUPPRESSED),
        (None, "passengers", "–"),
    ],
)
def test_small_counts_of_people_are_suppressed(
    value: float | None, unit: str, expected: str
) -> None:
    shown = "–" if value is None else f"{value:g}"
    assert suppress_small_counts(value, unit, shown) == expected


def shuttle_report(estimates: dict[str, Estimate]) -> TrialReport:
    """The shuttle trial's report with hand-made estimates of the metrics given."""
    spec, _ = load_spec(SHUTTLE_SPEC)
    pilot = trial_pilot(spec)
    metrics = tuple(
        MetricEvidence(role, pilot.metric(role.name), estimates[role.name], f"run{i}")
        for i, role in enumerate(spec.metrics)
        if role.name in estimates
    )
    registration = Registration(spec, "0" * 64, "2026-06-01T00:00:00+00:00", "owner")
    return TrialReport(TrialEvidence(registration, pilot.name, "a1", None, metrics, {}), (), ())


def estimate(effect: float | None, relative: float | None = None) -> Estimate:
    if effect is None:
        return Estimate(
            "randomized",
            "ATE",
            None,
            None,
            None,
            None,
            None,
            None,
            0,
            0,
            0,
            status="cannot_estimate",
            message="no control days",
        )
    return Estimate(
        "randomized", "ATE", effect, 0.1, effect - 0.2, effect + 0.2, 0.01, relative, 84, 84, 42
    )


def test_levels_of_a_people_metric_below_ten_show_as_suppressed() -> None:
    report = shuttle_report(
        {  # passengers: 6.0 without the pilot, 7.2 with; journey time: 30 minutes, 28.5 with
            "passengers_per_hour": estimate(1.2, 0.2),
            "journey_time_min": estimate(-1.5, -0.05),
        }
    )
    rows = {row[0]: row for row in dossier_from_report(report, "en").results.rows}
    assert rows["Passengers per vehicle-hour (passengers per vehicle-hour)"][2] == "<10 → <10"
    assert rows["Journey time (minutes per trip)"][2] == "30 → 28.5"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_metrics_that_could_not_be_estimated_still_render(lang: str) -> None:
    report = shuttle_report(
        {"journey_time_min": estimate(None), "safety_events_per_1000_km": estimate(None)}
    )
    dossier = dossier_from_report(report, lang)
    text = TEXT[lang]
    assert dossier.primary == (text["headline.not_estimated"].format(metric="Journey time"),)
    assert [row[3] for row in dossier.results.rows] == [text["not_estimated"]] * 2
    assert dossier.results.rows[1][-1] == text["state.not estimated"]
    assert [row.relative for row in dossier.forest] == [None, None]
    page = render_html(dossier)
    assert page.count('src="data:image/png;base64,') == 1  # the forest, marked not estimated


# --- an analysed trial -------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_pdf_opens_with_pages_and_the_numbers(
    lang: str, numbers: list[str], rendered: dict[str, tuple[Any, bytes, int, str]]
) -> None:
    _, pdf, pages, _ = rendered[lang]
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == pages >= 2
    text = pdf_text(pdf)
    for number in numbers:
        assert number in text
    if lang == "zh-Hant":
        for heading in CHINESE_HEADINGS:
            assert heading in text
        assert "Committee brief" not in text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_pdf_embeds_noto_sans_tc_and_no_other_font(
    lang: str, rendered: dict[str, tuple[Any, bytes, int, str]]
) -> None:
    reader = PdfReader(io.BytesIO(rendered[lang][1]))
    fonts = {
        font.get_object()["/BaseFont"]: font.get_object()
        for page in reader.pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert fonts
    assert all("NotoSansTC" in name for name in fonts)
    for font in fonts.values():  # embedded: its descendant carries the font file
        descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_html_is_self_contained_with_its_language_and_the_numbers(
    lang: str, numbers: list[str], rendered: dict[str, tuple[Any, bytes, int, str]]
) -> None:
    page = rendered[lang][3]
    assert f'<html lang="{lang}">' in page
    for number in numbers:
        assert number in page
    assert page.count('src="data:image/png;base64,') == 2
    assert "@font-face" in page
    assert "data:font/ttf;base64," in page
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched from elsewhere
    if lang == "zh-Hant":
        assert all(heading in page for heading in CHINESE_HEADINGS)


def test_the_brief_says_what_the_rule_and_the_checks_say(
    evidence: TrialEvidence, rendered: dict[str, tuple[Any, bytes, int, str]]
) -> None:
    dossier = rendered["en"][0]
    outcome = evidence.recommendation()
    assert dossier.recommendation == outcome.label
    assert dossier.rule == decision_rule_text(evidence.spec)
    if outcome.extension is not None:
        assert outcome.extension.message in dossier.extension
    assert {check.status for check in dossier.checks} <= {
        "pass",
        "warn",
        "fail",
        "informational",
        "not_applicable",
    }
    assert dossier.checks[-1].title == "Data health"
    health = evidence.data_health
    assert f"{health['rows_read']:,} rows read = {health['rows_accepted']:,} accepted" in " ".join(
        dossier.data_health
    )
    chinese = rendered["zh-Hant"][0]
    assert chinese.recommendation == TEXT["zh-Hant"][f"rec.{outcome.recommendation}"]
    assert [check.status for check in chinese.checks] == [check.status for check in dossier.checks]


def test_no_data_row_reaches_the_dossier(
    analysed: Path, evidence: TrialEvidence, rendered: dict[str, tuple[Any, bytes, int, str]]
) -> None:
    sites = Tracker(analysed).sites(evidence.metrics[0].run_id)
    units = {site["unit"] for site in sites}
    assert units
    for lang in LANGUAGES:
        page = rendered[lang][3]
        assert not [unit for unit in units if re.search(rf"\b{unit}\b", page)]


def test_the_committees_decision_is_in_the_dossier(analysed: Path, evidence: TrialEvidence) -> None:
    outcome = evidence.recommendation()
    DecisionLog(analysed).record(
        TRIAL,
        "stop",
        recommendation=outcome.recommendation,
        reason="Overflow complaints rose in two districts",
        analysis=evidence.analysis_id,
        spec_hash=evidence.registration.spec_hash,
        actor="committee-chan",
    )
    english = " ".join(dossier_content(analysed, TRIAL, "en").decision)
    assert "Stop, recorded by committee-chan" in english
    assert "Overflow complaints rose in two districts" in english
    chinese = " ".join(dossier_content(analysed, TRIAL, "zh-Hant").decision)
    assert "停止，由 committee-chan" in chinese


# --- a trial not analysed yet ------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_trial_not_analysed_yet_still_gets_a_dossier(home: Path, lang: str) -> None:
    spec, text = load_spec(SHUTTLE_SPEC)
    registration, _ = TrialStore(home).register(spec, text)
    dossier = dossier_content(home, spec.id, lang)
    assert not dossier.analysed
    assert not dossier.results.rows
    assert not dossier.runs.rows
    pdf, pages = render_pdf_with_pages(dossier)
    assert pages >= 2
    extracted = pdf_text(pdf)
    assert TEXT[lang]["not_analysed"] in extracted
    assert registration.spec_hash[:12] in extracted
    page = render_html(dossier)
    assert TEXT[lang]["rec.awaiting"] in page
    assert all(html.escape(sentence) in page for sentence in dossier.rule)


def test_build_dossier_refuses_unknown_languages_formats_and_trials(analysed: Path) -> None:
    with pytest.raises(InputError, match="zh-Hant"):
        build_dossier(analysed, TRIAL, "fr", "pdf")
    with pytest.raises(InputError, match="pdf, html"):
        build_dossier(analysed, TRIAL, "en", "docx")
    with pytest.raises(UnknownNameError, match=TRIAL):
        build_dossier(analysed, "no-such-trial", "en", "html")


# --- the command line --------------------------------------------------------------------------


@pytest.fixture
def analysed_home(analysed: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``LIVINGLAB_HOME`` pointing at the analysed store, as the ``home`` fixture would."""
    monkeypatch.setenv("LIVINGLAB_HOME", str(analysed))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return analysed


def test_report_writes_the_pdf_and_html_and_audits_them(
    analysed_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pdf = tmp_path / "dossier.pdf"
    assert cli.main(["report", TRIAL, "--lang", "zh-Hant", "--out", str(pdf)]) == 0
    pages = len(PdfReader(pdf).pages)
    assert capsys.readouterr().out.strip() == f"wrote {pdf} ({pages} pages)"
    assert "委員會簡報" in pdf_text(pdf.read_bytes())
    page = tmp_path / "dossier.html"
    assert cli.main(["report", TRIAL, "--format", "html", "--out", str(page)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {page}"
    assert '<html lang="en">' in page.read_text(encoding="utf-8")
    entries = AuditLog(analysed_home).entries(action="report", target=TRIAL)
    assert [entry.details for entry in entries[:2]] == [
        {"lang": "en", "format": "html"},
        {"lang": "zh-Hant", "format": "pdf"},
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["report", "no-such-trial", "--out", "{tmp}/x.pdf"], "unknown trial 'no-such-trial'"),
        (["report", TRIAL, "--out", "{tmp}/missing/x.pdf"], "does not exist"),
        (["report", TRIAL, "--lang", "fr", "--out", "{tmp}/x.pdf"], "invalid choice"),
    ],
)
def test_report_errors_are_one_line_and_exit_2(
    analysed_home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    try:
        code = cli.main([arg.replace("{tmp}", str(tmp_path)) for arg in argv])
    except SystemExit as exit_:  # argparse's own refusals exit through the parser
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ")
    assert message in err
    assert err.count("\n") == 1
    assert not list(tmp_path.iterdir())
