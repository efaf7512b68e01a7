"""The story's data files: they load, ship with the package, and problems name file and key."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from importlib import resources
from pathlib import Path

import pytest

from features.demo import datafiles, stories
from features.demo.datafiles import StoryError
from features.demo.stories import CHANNEL_NAMES, SIZES, story

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "features" / "demo" / "data"


def test_the_tables_load_in_code_order() -> None:
    s = story()
    assert CHANNEL_NAMES == (
        "referral", "partner", "paid_search", "organic_search", "social", "email", "display",
        "events", "direct",
    )  # fmt: skip
    assert s.regions[0].name == "Moscow"
    assert s.pages[0].path == "/"
    assert len(s.channels[0].size_probs) == len(SIZES) + 1
    assert [c.name for c in s.channels if c.partner_niches] == ["partner"]
    assert story() is s  # read once


def test_every_data_file_ships_with_the_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["features"]
    files = sorted(DATA.glob("*"))
    assert [f.name for f in files if f.suffix != ".yaml"] == []
    for file in files:
        relative = file.relative_to(ROOT / "features").as_posix()
        assert any(fnmatch(relative, pattern) for pattern in patterns), relative
    shipped = resources.files("features.demo").joinpath("data")
    assert sorted(f.name for f in shipped.iterdir()) == [f.name for f in files]


def _broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, old: str, new: str) -> None:
    """A copy of the data files with ``old`` replaced by ``new`` in ``name``, read instead."""
    copy = tmp_path / "data"
    copy.mkdir()
    for file in DATA.glob("*.yaml"):
        text = file.read_text(encoding="utf-8")
        if file.name == name:
            assert old in text
            text = text.replace(old, new, 1)
        (copy / file.name).write_text(text, encoding="utf-8")
    monkeypatch.setattr(datafiles.resources, "files", lambda _: tmp_path)


@pytest.mark.parametrize(
    ("name", "old", "new", "message"),
    [
        (
            "channels.yaml",
            "share: 0.15\n",
            "share: lots\n",
            "features/demo/data/channels.yaml: channels.social.share: Input should be a valid",
        ),
        (
            "channels.yaml",
            "phone_rate: 0.35",
            "phone_rates: 0.35",
            "channels.yaml: channels.display.phone_rates: Extra inputs are not permitted",
        ),
        (
            "channels.yaml",
            'size_probs: {missing: 0.08, "1-10"',
            'size_probs: {none: 0.08, "1-10"',
            "channels.referral.size_probs: Value error, expected the keys missing, 1-10",
        ),
        (
            "regions.yaml",
            "country: kz}",
            "country: kaz}",
            "regions.yaml: regions.Almaty.country: Input should be",
        ),
        (
            "channels.yaml",
            "pages: {partners: 5,",
            "pages: {partner: 5,",
            "channels.yaml: channels.partner.pages: unknown page kind 'partner'",
        ),
        (
            "pages.yaml",
            "/free-audit: {kind: promo, service: seo,",
            "/free-audit: {kind: promo, service: sea,",
            "pages.yaml: pages./free-audit.service: unknown service 'sea'",
        ),
    ],
)
def test_a_bad_table_names_its_file_and_key(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    old: str,
    new: str,
    message: str,
) -> None:
    _broken(tmp_path, monkeypatch, name, old, new)
    with pytest.raises(StoryError) as raised:
        stories.story.__wrapped__()
    assert message in str(raised.value)


def test_bad_phrases_name_their_file_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from features.demo import messages

    _broken(tmp_path, monkeypatch, "messages.yaml", "  en:\n    seo:", "  en:\n    sea:")
    with pytest.raises(StoryError) as raised:
        messages.phrases.__wrapped__()
    assert "messages.yaml: openers.en: expected the keys seo, ppc" in str(raised.value)
