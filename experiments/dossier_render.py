"""The evidence dossier laid out: a PDF (fpdf2) or one self-contained HTML file.

Both lay out the same ``Dossier`` in the same order: the committee brief (the trial, the rule's
recommendation and the committee's decision, the summary in plain words, the primary metric,
every metric's results, the charts, the diagnostics checklist), then the technical appendix (the
rule, methods and assumptions, design, data health, provenance, tracked runs).

One font for both languages, Noto Sans TC (SIL Open Font License), which covers Latin as well as
Traditional Chinese; the PDF embeds it and the HTML carries it as data URIs, so either reads the
same on a machine without Chinese fonts. It ships as a variable font whose default instance is
Thin, which fpdf2 and matplotlib would draw; ``dossier_fonts`` makes static regular and bold
instances of just the glyphs a dossier uses (about a second, where instancing the whole 12 MB
font takes ten seconds per weight), and keeps them for the next dossier with the same glyphs.
"""

from __future__ import annotations

import base64
import functools
import html
import importlib.resources
import io
import json
import struct
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fontTools import subset
from fontTools.ttLib import TTFont
from fontTools.varLib import instancer
from fpdf import FPDF, FontFace
from fpdf.enums import WrapMode

from experiments.dossier_charts import forest_png, trajectory_png
from experiments.dossier_model import Dossier, Table

FONT_PACKAGE = "justmytype_intl_cjk"
FONT_FILE = "fonts/ofl/notosanstc/NotoSansTC[wght].ttf"
FONT = "NotoSansTC"
REGULAR, BOLD = 400, 700
# Beyond a dossier's own words, what its numbers, punctuation and charts' axes may print.
ALWAYS = "".join(map(chr, range(0x20, 0x7F))) + "–—−…‘’“”•·→≥≤±×，。：；（）「」、！？／"
# Glyph positioning and substitution: neither fpdf2 (without text shaping) nor matplotlib reads
# them, and instancing their kerning is most of the time a variable font's instance takes.
LAYOUT_TABLES = ["GSUB", "GPOS", "GDEF", "BASE", "vhea", "vmtx"]
INK = (33, 33, 33)
MUTED = (110, 110, 110)
RULE_LINE = (200, 200, 200)
HEADING_FILL = (238, 238, 238)
RECOMMENDATION_COLOURS = {  # Okabe-Ito, as the app's verdicts
    "scale": "#009E73",
    "iterate": "#E69F00",
    "stop": "#D55E00",
    "": "#999999",
}
STATUS_COLOURS = {
    "pass": "#009E73",
    "warn": "#E69F00",
    "fail": "#D55E00",
    "informational": "#0072B2",
    "not_applicable": "#999999",
}
RESULT_WIDTHS = (40, 14, 22, 15, 25, 14, 14, 16, 30)
CHECK_WIDTHS = (28, 22, 66, 74)
METHOD_WIDTHS = (30, 60, 100)
RUN_WIDTHS = (58, 26, 26, 80)
FACT_WIDTHS = (45, 145)


@dataclass(frozen=True)
class Fonts:
    regular: Path
    bold: Path


def render_pdf(dossier: Dossier) -> bytes:
    """The dossier as a PDF with Noto Sans TC embedded."""
    return render_pdf_with_pages(dossier)[0]


def render_pdf_with_pages(dossier: Dossier) -> tuple[bytes, int]:
    """The dossier as a PDF and its number of pages."""
    with dossier_fonts(_characters(dossier)) as fonts:
        document = _Pdf(dossier, fonts)
        document.write(_charts(dossier, fonts))
        return bytes(document.output()), document.pages_count


def render_html(dossier: Dossier) -> str:
    """The dossier as one HTML file: styles, font and charts inline, readable and printable."""
    with dossier_fonts(_characters(dossier)) as fonts:
        return _Html(dossier, fonts, _charts(dossier, fonts)).page()


@contextmanager
def dossier_fonts(characters: str) -> Iterator[Fonts]:
    """Static regular and bold Noto Sans TC with the glyphs of ``characters`` and ``ALWAYS``,
    as files in a temporary directory while the context lasts (fpdf2 and matplotlib read fonts
    from files)."""
    regular, bold = _static_fonts("".join(sorted(set(characters + ALWAYS))))
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as folder:
        files = Fonts(Path(folder) / f"{FONT}-Regular.ttf", Path(folder) / f"{FONT}-Bold.ttf")
        files.regular.write_bytes(regular)
        files.bold.write_bytes(bold)
        yield files


@functools.lru_cache(maxsize=16)
def _static_fonts(characters: str) -> tuple[bytes, bytes]:
    """The regular and bold instances of the font cut down to ``characters``; kept for the
    next dossier of the same trial and language, which needs the same glyphs."""
    source = importlib.resources.files(FONT_PACKAGE) / FONT_FILE
    with importlib.resources.as_file(source) as path:
        font = TTFont(path)
        for tag in LAYOUT_TABLES:
            del font[tag]
        subsetter = subset.Subsetter(subset.Options(name_IDs=["*"], hinting=False))
        subsetter.populate(text=characters)
        subsetter.subset(font)
        variable = io.BytesIO()
        font.save(variable)
    instances = []
    for weight in (REGULAR, BOLD):
        static = TTFont(io.BytesIO(variable.getvalue()))
        instancer.instantiateVariableFont(
            static, {"wght": weight}, inplace=True, updateFontNames=True
        )
        saved = io.BytesIO()
        static.save(saved)
        instances.append(saved.getvalue())
    return instances[0], instances[1]


def _characters(dossier: Dossier) -> str:
    """Every character the dossier may print."""
    return json.dumps(asdict(dossier), ensure_ascii=False)


def _charts(dossier: Dossier, fonts: Fonts) -> list[tuple[str, bytes]]:
    """The dossier's charts as ``(title, PNG)``: the primary metric's path, every metric's
    relative effect (none before an analysis)."""
    text, charts = dossier.text, []
    if dossier.trajectory:
        png = trajectory_png(dossier.trajectory, text, fonts.regular)
        charts.append((dossier.trajectory.title, png))
    if dossier.forest:
        charts.append((text["chart.forest"], forest_png(dossier.forest, text, fonts.regular)))
    return charts


# --- PDF -----------------------------------------------------------------------------------------


class _Pdf(FPDF):
    """A4 pages in Noto Sans TC; Chinese wraps between characters, English between words."""

    def __init__(self, dossier: Dossier, fonts: Fonts) -> None:
        super().__init__(format="A4")
        self.dossier = dossier
        self.text = dossier.text
        self.wrap = WrapMode.CHAR if dossier.lang.startswith("zh") else WrapMode.WORD
        self.add_font(FONT, "", fonts.regular)
        self.add_font(FONT, "B", fonts.bold)
        self.set_margins(10, 12, 10)
        self.set_auto_page_break(True, margin=14)
        self.set_title(f"{self.text['document']}: {dossier.trial_id}")
        self.set_lang(dossier.lang)
        self.set_creator("livinglab report")

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(FONT, "", 7)
        self.set_text_color(*MUTED)
        self.cell(0, 4, f"{self.dossier.trial_id} · {self.text['document']}", align="L")
        self.set_x(self.l_margin)
        page = self.text["page"].format(page=self.page_no(), pages="{nb}")
        self.cell(0, 4, page, align="R")

    def write(self, charts: Sequence[tuple[str, bytes]]) -> None:
        dossier, text = self.dossier, self.text
        self.add_page()
        self.banner(f"{text['document']} · {text['brief']}")
        self.paragraph(dossier.title, size=16, bold=True, height=7.5)
        self.facts(dossier.facts)
        self.heading(text["section.recommendation"])
        self.recommendation()
        self.heading(text["section.decision"])
        for line in dossier.decision:
            self.paragraph(line)
        self.heading(text["section.summary"])
        self.paragraph(dossier.summary)
        if dossier.primary:
            self.heading(text["section.primary"])
            for line in dossier.primary:
                self.paragraph(line)
        if dossier.results.rows:
            self.heading(text["section.results"])
            self.grid(dossier.results, RESULT_WIDTHS, size=7)
        if charts:
            self.heading(text["section.charts"], keep=self.image_height(charts[0][1]) + 8)
            for _, png in charts:
                self.image_png(png)
        if dossier.checks:
            self.heading(text["section.checks"])
            self.checklist()
        self.add_page()
        self.banner(f"{text['document']} · {text['appendix']}")
        self.heading(text["section.rule"])
        self.bullets(dossier.rule)
        self.heading(text["section.methods"])
        self.grid(dossier.methods, METHOD_WIDTHS)
        self.heading(text["section.design"])
        self.facts(dossier.design)
        self.heading(text["section.data_health"])
        self.bullets(dossier.data_health)
        self.heading(text["section.provenance"])
        self.facts(dossier.provenance)
        if dossier.runs.rows:
            self.heading(text["section.runs"])
            self.grid(dossier.runs, RUN_WIDTHS)
        self.ln(2)
        self.paragraph(text["privacy"], size=7.5, colour=MUTED)

    def banner(self, words: str) -> None:
        self.set_font(FONT, "", 8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, words, new_x="LMARGIN", new_y="NEXT")
        self.set_draw_color(*RULE_LINE)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(2)

    def heading(self, words: str, keep: float = 20) -> None:
        """A section's title, on a new page unless ``keep`` mm of what follows fit below it."""
        if self.will_page_break(keep):
            self.add_page()
        self.ln(2.5)
        self.paragraph(words, size=11.5, bold=True, height=6)
        self.ln(0.5)

    def paragraph(
        self,
        words: str,
        *,
        size: float = 9,
        bold: bool = False,
        height: float = 4.6,
        colour: tuple[int, int, int] = INK,
    ) -> None:
        self.set_font(FONT, "B" if bold else "", size)
        self.set_text_color(*colour)
        self.multi_cell(0, height, words, new_x="LMARGIN", new_y="NEXT", wrapmode=self.wrap)
        self.ln(0.8)

    def bullets(self, lines: Sequence[str]) -> None:
        for line in lines:
            self.set_font(FONT, "", 9)
            self.set_text_color(*INK)
            self.cell(4, 4.6, "•")
            self.multi_cell(0, 4.6, line, new_x="LMARGIN", new_y="NEXT", wrapmode=self.wrap)
            self.ln(0.6)

    def recommendation(self) -> None:
        dossier = self.dossier
        self.set_fill_color(*_rgb(RECOMMENDATION_COLOURS[dossier.recommendation_kind]))
        self.set_text_color(255, 255, 255)
        self.set_font(FONT, "B", 13)
        self.cell(0, 9, f"  {dossier.recommendation}", fill=True, new_x="LMARGIN", new_y="NEXT")
        self.ln(1.5)
        if dossier.reasons:
            self.paragraph(self.text["why"], bold=True)
            self.bullets(dossier.reasons)
        if dossier.extension:
            self.paragraph(dossier.extension)

    def facts(self, rows: Sequence[tuple[str, str]]) -> None:
        self.grid(Table(("", ""), tuple(rows)), FACT_WIDTHS, headings=False)

    def grid(
        self,
        table: Table,
        widths: Sequence[float],
        *,
        size: float = 8,
        headings: bool = True,
    ) -> None:
        self.set_font(FONT, "", size)
        self.set_text_color(*INK)
        self.set_draw_color(*RULE_LINE)
        with self.layout(widths, headings) as layout:
            if headings:
                layout.row(table.columns)
            for row in table.rows:
                layout.row(row)
        self.ln(1.5)

    def layout(self, widths: Sequence[float], headings: bool) -> Any:
        """fpdf2's table context with the dossier's style."""
        return self.table(
            col_widths=tuple(widths),
            width=self.epw,
            text_align="LEFT",
            line_height=self.font_size * 1.45,
            first_row_as_headings=headings,
            headings_style=FontFace(emphasis="BOLD", fill_color=HEADING_FILL),
            borders_layout="HORIZONTAL_LINES",
            wrapmode=self.wrap,
            padding=(0.8, 1.2),
        )

    def checklist(self) -> None:
        text = self.text
        self.set_font(FONT, "", 7.5)
        self.set_text_color(*INK)
        self.set_draw_color(*RULE_LINE)
        columns = (text["col.check"], text["col.result"], text["col.null"], text["col.reading"])
        with self.layout(CHECK_WIDTHS, True) as layout:
            layout.row(columns)
            for check in self.dossier.checks:
                row = layout.row()
                row.cell(check.title)
                row.cell(
                    check.label,
                    style=FontFace(
                        emphasis="BOLD", color=_rgb(STATUS_COLOURS.get(check.status, "#999999"))
                    ),
                )
                row.cell(check.null_hypothesis)
                row.cell(check.reading)
        self.ln(1.5)

    def image_png(self, png: bytes) -> None:
        if self.will_page_break(self.image_height(png)):
            self.add_page()
        self.image(io.BytesIO(png), w=self.epw)
        self.ln(2)

    def image_height(self, png: bytes) -> float:
        """The height in mm of a PNG drawn across the text width (its size is in the header)."""
        width, height = struct.unpack(">II", png[16:24])
        return self.epw * height / width


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


# --- HTML ----------------------------------------------------------------------------------------

STYLE = """
@font-face { font-family: "Noto Sans TC Dossier"; font-weight: 400;
  src: url(data:font/ttf;base64,{regular}) format("truetype"); }
@font-face { font-family: "Noto Sans TC Dossier"; font-weight: 700;
  src: url(data:font/ttf;base64,{bold}) format("truetype"); }
@page { size: A4; margin: 14mm 12mm; }
body { font-family: "Noto Sans TC Dossier", "Noto Sans TC", sans-serif; color: #212121;
  max-width: 60rem; margin: 2rem auto; padding: 0 1.5rem; line-height: 1.5; font-size: 15px; }
.banner { color: #6e6e6e; font-size: 0.8rem; border-bottom: 1px solid #c8c8c8;
  padding-bottom: 0.2rem; }
h1 { font-size: 1.6rem; margin: 0.6rem 0 0.8rem; }
h2 { font-size: 1.15rem; margin: 1.4rem 0 0.4rem; break-after: avoid; }
table { border-collapse: collapse; width: 100%; font-size: 0.82rem; margin: 0.3rem 0 0.8rem; }
th, td { text-align: left; vertical-align: top; padding: 0.25rem 0.4rem;
  border-bottom: 1px solid #c8c8c8; }
th { background: #eeeeee; }
table.facts th { background: none; width: 24%; font-weight: 700; }
tr { break-inside: avoid; }
.recommendation { color: #fff; font-weight: 700; font-size: 1.2rem; padding: 0.4rem 0.8rem;
  border-radius: 3px; }
.status { font-weight: 700; }
img { max-width: 100%; break-inside: avoid; }
.appendix { break-before: page; margin-top: 3rem; }
.note { color: #6e6e6e; font-size: 0.8rem; }
.hash { word-break: break-all; }
"""


class _Html:
    def __init__(self, dossier: Dossier, fonts: Fonts, charts: Sequence[tuple[str, bytes]]) -> None:
        self.dossier = dossier
        self.text = dossier.text
        self.fonts = fonts
        self.charts = charts

    def page(self) -> str:
        dossier, text = self.dossier, self.text
        style = STYLE.replace("{regular}", _base64(self.fonts.regular)).replace(
            "{bold}", _base64(self.fonts.bold)
        )
        colour = RECOMMENDATION_COLOURS[dossier.recommendation_kind]
        brief = [
            f'<p class="banner">{_e(text["document"])} · {_e(text["brief"])}</p>',
            f"<h1>{_e(dossier.title)}</h1>",
            _facts(dossier.facts),
            _h(text["section.recommendation"]),
            f'<p class="recommendation" style="background:{colour}">'
            f"{_e(dossier.recommendation)}</p>",
        ]
        if dossier.reasons:
            brief += [f"<p><strong>{_e(text['why'])}</strong></p>", _list(dossier.reasons)]
        if dossier.extension:
            brief.append(_p(dossier.extension))
        brief += [_h(text["section.decision"]), *map(_p, dossier.decision)]
        brief += [_h(text["section.summary"]), _p(dossier.summary)]
        if dossier.primary:
            brief += [_h(text["section.primary"]), *map(_p, dossier.primary)]
        if dossier.results.rows:
            brief += [_h(text["section.results"]), _table(dossier.results)]
        if self.charts:
            brief.append(_h(text["section.charts"]))
            brief += [
                f'<p><img alt="{_e(title)}" src="data:image/png;base64,'
                f'{base64.b64encode(png).decode()}"></p>'
                for title, png in self.charts
            ]
        if dossier.checks:
            brief += [_h(text["section.checks"]), self.checklist()]
        appendix = [
            f'<p class="banner">{_e(text["document"])} · {_e(text["appendix"])}</p>',
            _h(text["section.rule"]),
            _list(dossier.rule),
            _h(text["section.methods"]),
            _table(dossier.methods),
            _h(text["section.design"]),
            _facts(dossier.design),
            _h(text["section.data_health"]),
            _list(dossier.data_health),
            _h(text["section.provenance"]),
            _facts(dossier.provenance, cls="facts hash"),
        ]
        if dossier.runs.rows:
            appendix += [_h(text["section.runs"]), _table(dossier.runs)]
        appendix.append(f'<p class="note">{_e(text["privacy"])}</p>')
        return (
            f'<!DOCTYPE html>\n<html lang="{_e(dossier.lang)}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_e(text['document'])}: {_e(dossier.trial_id)}</title>\n"
            f"<style>{style}</style>\n</head>\n<body>\n<main>\n<section>\n"
            + "\n".join(brief)
            + '\n</section>\n<section class="appendix">\n'
            + "\n".join(appendix)
            + "\n</section>\n</main>\n</body>\n</html>\n"
        )

    def checklist(self) -> str:
        text = self.text
        head = "".join(
            f"<th>{_e(text[key])}</th>"
            for key in ("col.check", "col.result", "col.null", "col.reading")
        )
        rows = "".join(
            f"<tr><td>{_e(c.title)}</td>"
            f'<td class="status" style="color:{STATUS_COLOURS.get(c.status, "#999999")}">'
            f"{_e(c.label)}</td><td>{_e(c.null_hypothesis)}</td><td>{_e(c.reading)}</td></tr>"
            for c in self.dossier.checks
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _e(words: str) -> str:
    return html.escape(words, quote=True)


def _h(words: str) -> str:
    return f"<h2>{_e(words)}</h2>"


def _p(words: str) -> str:
    return f"<p>{_e(words)}</p>"


def _list(lines: Sequence[str]) -> str:
    return "<ul>" + "".join(f"<li>{_e(line)}</li>" for line in lines) + "</ul>"


def _table(table: Table) -> str:
    head = "".join(f"<th>{_e(column)}</th>" for column in table.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(cell)}</td>" for cell in row) + "</tr>" for row in table.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _facts(rows: Sequence[tuple[str, str]], cls: str = "facts") -> str:
    body = "".join(f"<tr><th>{_e(label)}</th><td>{_e(value)}</td></tr>" for label, value in rows)
    return f'<table class="{cls}"><tbody>{body}</tbody></table>'


def _base64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()
