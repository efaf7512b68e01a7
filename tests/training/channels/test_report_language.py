"""The channel review in Russian and English: the HTML file's headings, column headers,
verdicts and phrases in the asked language, the same numbers and machine values in both,
the ``--lang`` option of ``leadscore report channels``, and the training catalogs complete
for every message the channel code asks for."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pandas as pd
import pytest
from babel.messages.extract import extract_from_dir
from typer.testing import CliRunner

from features.demo.output import write_demo_data
from features.i18n import LOCALES
from features.i18n.catalogs import read_catalog
from features.spec import load_spec
from serving.cli.main import app
from tests.training.channels.demo_model import Demo
from training.channels.leads import leads_from_records
from training.channels.page import HTML_NAME, render_html
from training.channels.report import ChannelReport, build_channel_report
from training.channels.words import COLUMN_LABELS, DOMAIN, PACKAGE, STAGE_LABELS, column_label

CHANNELS = Path(__file__).resolve().parents[3] / "training" / "channels"
#: A table cell holding a number, a percentage or a dash (what must not change with language).
_NUMBER_CELL = re.compile(r"<td class='[^']*'>([-—0-9.,%]+)</td>")


@pytest.fixture(scope="module")
def russian(demo: Demo) -> ChannelReport:
    """The package's report, built again in Russian from the same leads and model."""
    frame, _truth, model = demo
    leads = leads_from_records(frame, spec=load_spec("demo"), source="demo")
    return build_channel_report(
        leads,
        model,
        model_name="demo-qualified-sql",
        model_version="1",
        explain_per_group=150,
        locale="ru",
    )


def test_the_russian_page_has_russian_words_and_the_same_numbers(
    report: ChannelReport, russian: ChannelReport
) -> None:
    english, page = render_html(report), render_html(russian)
    assert page.startswith("<!DOCTYPE html><html lang='ru'>")
    assert "<h1>Обзор каналов</h1>" in page
    for heading in (
        "<h2>Сводка</h2>",
        "<h2>Что влияет на конверсию в каждом канале</h2>",
        "<h2>Воронка по каналам</h2>",
        "<h2>Динамика по месяцам</h2>",
    ):
        assert heading in page
    assert "<th class='' title='conversion_rate'>Конверсия</th>" in page
    assert "<th class='' title='conversion_rate'>Conversion rate</th>" in english
    assert "title='mql_to_sql'>MQL → SQL</th>" in page
    assert "<td class='text'>(все лиды)</td>" in page
    assert "<td class='text'>мало лидов для выводов (" in page
    assert "<td class='text'>можно судить</td>" in page
    assert "шанс SQL" in page  # the outcome judged, and the phrases' outcome
    assert re.search(r"повышает шанс SQL, .+ понижает его", page)
    assert "факторы упорядочены по разбросу" in page
    for english_word in ("What drives conversion", "too few leads to judge", "raises the chance"):
        assert english_word not in page
        assert english_word in english
    numbers = _NUMBER_CELL.findall(english)
    assert len(numbers) > 100
    assert _NUMBER_CELL.findall(page) == numbers


def test_the_tables_keep_their_machine_values_in_every_language(
    report: ChannelReport, russian: ChannelReport
) -> None:
    """Column names, verdicts and the all-leads key stay English: the CSV files and the
    JSON are the same apart from the phrases."""
    for name, table in report.tables().items():
        other = russian.tables()[name]
        assert list(other.columns) == list(table.columns), name
        numeric = [c for c in table.columns if table[c].dtype.kind in "fiub"]
        pd.testing.assert_frame_equal(other[numeric], table[numeric], check_exact=False)
    assert list(russian.summary["verdict"]) == list(report.summary["verdict"])
    assert russian.summary["channel"].iloc[0] == "(all leads)"
    assert russian.to_json()["outcome"] == "шанс SQL"
    assert report.to_json()["outcome"] == "the chance of SQL"
    # an English report rendered in Russian: the page's words change, its phrases do not
    translated = render_html(report, locale="ru")
    assert "<h2>Сводка</h2>" in translated
    assert "raises the chance" in translated


def test_the_report_command_writes_the_page_in_the_asked_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--lang`` first, else ``LEADSCORE_LOCALE``; a bad language is refused by name."""
    data = tmp_path / "leads.csv"
    write_demo_data(data, n=600, seed=5)
    monkeypatch.setenv("LEADSCORE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LEADSCORE_LOCALE", "ru")
    command = ["report", "channels", "--spec", "demo", "--data", str(data), "--no-log"]
    result = CliRunner().invoke(app, [*command, "--out", str(tmp_path / "ru")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "ru" / HTML_NAME).read_text(encoding="utf-8")
    assert "<h1>Обзор каналов: demo</h1>" in page
    assert "Лиды</th>" in page
    assert "нет модели: показана только воронка" in page
    csv_header = (tmp_path / "ru" / "summary.csv").read_text(encoding="utf-8").splitlines()[0]
    assert csv_header.startswith("channel,leads,conversions,conversion_rate")

    result = CliRunner().invoke(app, [*command, "--lang", "en", "--out", str(tmp_path / "en")])
    assert result.exit_code == 0, result.output
    english = (tmp_path / "en" / HTML_NAME).read_text(encoding="utf-8")
    assert "<h1>Channel review: demo</h1>" in english
    assert "no model: only the funnel is reported" in english

    refused = CliRunner().invoke(app, [*command, "--lang", "de", "--out", str(tmp_path / "de")])
    assert refused.exit_code != 0
    assert (
        "--lang: ожидалось одно из en, ru, получено «de»" in refused.output
    )  # LEADSCORE_LOCALE=ru
    assert not (tmp_path / "de").exists()


def _asked() -> dict[str, str]:
    """Every message id training/channels asks for (Babel's Python extractor), and where."""
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        CHANNELS, [("**.py", "python")]
    ):
        msgid = message if isinstance(message, str) else message[0]
        found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_the_extraction_finds_the_reports_words() -> None:
    asked = _asked()
    assert len(asked) > 100
    for msgid in ("Conversion rate", "Summary", "ok", "{best} raises {outcome}, {worst} lowers it"):
        assert msgid in asked


@pytest.mark.parametrize("locale", LOCALES)
def test_the_training_catalog_translates_every_message_the_report_asks_for(locale: str) -> None:
    catalog = read_catalog(locale, domain=DOMAIN, package=PACKAGE)
    asked = _asked()
    found = {msgid: catalog.get(msgid) for msgid in asked}
    untranslated = sorted(
        f"{asked[m]}: {m}" for m, t in found.items() if t is None or t.fuzzy or not t.string
    )
    assert not untranslated, f"untranslated in training.{locale}.po:\n" + "\n".join(untranslated)
    mismatched = sorted(
        f"{asked[m]}: {m} -> {t.string}"
        for m, t in found.items()
        if t is not None and _placeholders(str(t.string)) != _placeholders(m)
    )
    assert not mismatched, "placeholders differ:\n" + "\n".join(mismatched)


def test_every_column_has_a_label_in_both_languages(report: ChannelReport) -> None:
    """No header falls back to its column name: each has a label, or is a stage or a
    stage-to-stage rate made of them."""
    for table in report.tables().values():
        for column in table.columns:
            first, _, last = column.partition("_to_")
            parts = [column] if column in COLUMN_LABELS or not last else [first, last]
            assert all(p in COLUMN_LABELS or p in STAGE_LABELS for p in parts), column
            assert column_label(column, "ru") != column.replace("_", " "), column
