"""Show titles and synopses in other languages: TMDB's translations read by the sync, stored per language, found by
autocomplete, and shown on a card in the member's language (else the English text, marked as such)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from shared_data import serving
from test_sources_tmdb import API_KEY, FakeTmdb, no_sleep, recorded

from bot.catalog import SearchIndex, show_json
from bot.catalog.choices import autocomplete_choices
from bot.catalog.importer import import_records
from bot.catalog.records import ShowRecord, Translation
from bot.catalog.sources.base import SourceError
from bot.catalog.sources.sync import tmdb_translations
from bot.catalog.sources.tmdb import TmdbClient, translations_from
from bot.catalog.translations import best_translation, localise_show
from bot.common.render import show_card
from bot.emulator import APPLICATION_COMMAND
from bot.storage import Location, connect_sync, open_database

# The recorded /tv/1396 response with append_to_response=translations: an older shape that lists the languages only.
APPENDED_1396 = "tv_1396_append_credits_external_ids_content_ratings_images_translations_watch_providers.json"
# No /tv/{id}/translations response of TMDB's current shape is among the recordings, so the fake answers this one,
# built from TMDB's documented shape (id; translations[] of iso_3166_1, iso_639_1, name, english_name and data {name,
# overview, homepage}). The titles are the show's real ones in those languages; the overviews are test text.
MONEY_HEIST_TMDB = 71446
ENGLISH_TEXT_NOTE = {"fr": "Résumé en anglais", "ja": "あらすじは英語です", "de": "Inhaltsangabe auf Englisch"}
MONEY_HEIST_TRANSLATIONS: dict[str, Any] = {
    "id": MONEY_HEIST_TMDB,
    "translations": [
        {
            "iso_3166_1": country,
            "iso_639_1": language,
            "name": native,
            "english_name": english,
            "data": {"name": title, "overview": overview, "homepage": ""},
        }
        for country, language, native, english, title, overview in [
            ("ES", "es", "Español", "Spanish", "La casa de papel", "Ocho ladrones toman la Fábrica de Moneda."),
            ("DE", "de", "Deutsch", "German", "Haus des Geldes", "Acht Diebe besetzen die Banknotendruckerei."),
            ("AT", "de", "Deutsch", "German", "Haus des Geldes", "Test: der österreichische Text."),
            ("FR", "fr", "Français", "French", "La casa de papel", ""),
            ("US", "en", "English", "English", "Money Heist", "English is the catalog's own text."),
            ("BR", "pt", "Português", "Portuguese", "", "Oito ladrões invadem a Casa da Moeda."),
        ]
    ],
}


class FakeTmdbTranslations(FakeTmdb):
    def __init__(self) -> None:
        super().__init__()
        self.server.app.router.add_get("/3/tv/{id}/translations", self.translations)

    async def translations(self, request: web.Request) -> web.Response:
        if (refused := self.check(request)) is not None:
            return refused
        if request.match_info["id"] == str(MONEY_HEIST_TMDB):
            return web.json_response(MONEY_HEIST_TRANSLATIONS)
        if request.match_info["id"] == "1396":
            return web.json_response({"id": 1396, **self.recordings.loaded[APPENDED_1396]["translations"]})
        return self.not_found()


@pytest.fixture
async def tmdb() -> AsyncIterator[FakeTmdbTranslations]:
    async with serving(FakeTmdbTranslations()) as fake:
        yield fake


def test_translations_by_language_and_country() -> None:
    found = {t.language: (t.title, t.synopsis) for t in translations_from(MONEY_HEIST_TRANSLATIONS)}
    assert set(found) == {"es-ES", "de-DE", "de-AT", "fr-FR", "pt-BR"}  # English is the catalog's own
    assert found["fr-FR"] == ("La casa de papel", None) and found["pt-BR"][0] is None
    # The recorded response of the older shape names the languages only: nothing to store, and no error.
    assert translations_from(recorded(APPENDED_1396)["translations"]) == []
    with pytest.raises(SourceError, match="malformed"):
        translations_from({"id": 1})
    rows = [("de-AT", "A", "a"), ("de-DE", "D", "d"), ("pt-PT", "P", None), ("pt-BR", None, "b")]
    assert best_translation(rows, "de") and best_translation(rows, "de").language == "de-DE"  # type: ignore[union-attr]
    assert best_translation(rows, "pt-BR").language == "pt-BR"  # type: ignore[union-attr]
    assert best_translation(rows, "pt-PT").language == "pt-PT"  # type: ignore[union-attr]
    assert best_translation(rows, "ja") is None


@pytest.mark.both_engines
async def test_sync_stores_translations_and_titles_that_autocomplete_finds(
    tmdb: FakeTmdbTranslations, empty_location: Location
) -> None:
    tmdb.recordings.use(APPENDED_1396)
    db_path = empty_location
    async with open_database(db_path) as db:
        conn = connect_sync(db_path)
        try:
            import_records(
                conn,
                [
                    ShowRecord(
                        title="Money Heist", synopsis="Eight robbers take over the Royal Mint of Spain.",
                        premiered="2017-05-02", ids={"tmdb": MONEY_HEIST_TMDB},
                    ),
                    ShowRecord(title="Breaking Bad", premiered="2008-01-20", ids={"tmdb": 1396}),
                    ShowRecord(title="Unknown To Tmdb Test Show", ids={"tmdb": 5}),
                ],
            )  # fmt: skip
        finally:
            conn.close()
        summary = await tmdb_translations(tmdb.base_url, API_KEY, db_path, limit=10)
        assert summary.skipped == ["Unknown To Tmdb Test Show: TMDB has no show 5 (404)"]
        assert (summary.updated, summary.added) == (2, 0)  # Breaking Bad: only TMDB's source row, no text
        stored = await db.fetchall("SELECT language, title FROM show_translations ORDER BY language")
        assert [tuple(row) for row in stored] == [
            ("de-AT", "Haus des Geldes"), ("de-DE", "Haus des Geldes"), ("es-ES", "La casa de papel"),
            ("fr-FR", "La casa de papel"), ("pt-BR", None),
        ]  # fmt: skip
        again = await tmdb_translations(tmdb.base_url, API_KEY, db_path, limit=10)
        assert again.updated == 0  # nothing changed on TMDB: nothing rewritten

        index = await SearchIndex.load(db)
        for typed in ("Haus des Geldes", "haus des geld", "La casa de papel"):
            name, value = autocomplete_choices(index, typed)[0]
            assert value == "id:1" and name.startswith("Money Heist (2017) — "), typed

        show = await show_json(db, 1)
        assert show is not None
        german, note = await localise_show(db, show, "de")
        assert (german["title"], german["synopsis"], note) == (
            "Haus des Geldes", "Acht Diebe besetzen die Banknotendruckerei.", None,
        )  # fmt: skip
        card = show_card(german)
        assert card.title == "Haus des Geldes" and "TMDB" in (card.footer.text or "")
        french, note = await localise_show(db, show, "fr")  # a title but no synopsis in French: English, marked
        assert french["title"] == "La casa de papel" and french["synopsis"] == show["synopsis"]
        assert note == ENGLISH_TEXT_NOTE["fr"]
        japanese, note = await localise_show(db, show, "ja")
        assert japanese["title"] == "Money Heist" and note == ENGLISH_TEXT_NOTE["ja"]
        card = show_card(japanese, english_note=note)
        assert (card.footer.text or "").startswith(ENGLISH_TEXT_NOTE["ja"])
        assert (card.footer.text or "").count(ENGLISH_TEXT_NOTE["ja"]) == 1
        english, note = await localise_show(db, show, "en-GB")
        assert english == show and note is None


async def test_translations_client_maps_a_missing_show(tmdb: FakeTmdbTranslations) -> None:
    async with TmdbClient(tmdb.base_url, API_KEY, sleep=no_sleep) as client:
        assert await client.translations(5) is None


async def test_card_and_autocomplete_in_the_members_language(
    make_bot: Any, driver: Any, emulator: Any, database_path: Path, db: Any
) -> None:
    """Through the emulator with the real bot: the interaction's locale picks the card's text."""
    conn = connect_sync(database_path)
    try:
        import_records(conn, [ShowRecord(title="Money Heist", source="tmdb", translations=[
            Translation("de-DE", "Haus des Geldes", "Acht Diebe besetzen die Banknotendruckerei."),
            Translation("ja-JP", "ペーパー・ハウス", None),
        ], alt_titles=["Haus des Geldes", "ペーパー・ハウス"])])  # fmt: skip
    finally:
        conn.close()
    await make_bot()
    choices = await driver.autocomplete("show", "title", "Haus des Geld")
    assert choices[0]["name"].startswith("Money Heist (") and choices[0]["name"].endswith("— Haus des Geldes")

    async def show_in(locale: str) -> Any:
        who, where = driver.default_user, driver.default_channel
        data = driver._command_data("show", who, where, {"title": choices[0]["value"]}, focused=None)
        record, payload = emulator.new_interaction(APPLICATION_COMMAND, who, where, data)
        payload["locale"] = locale  # the member's client language (the driver's own locale option is i18n's)
        return (await driver._run(record, payload, "/show")).embed

    german = await show_in("de")
    assert german["title"] == "Haus des Geldes" and german["description"].startswith("Acht Diebe")
    assert not german["footer"]["text"].startswith(ENGLISH_TEXT_NOTE["de"])
    japanese = await show_in("ja")
    assert japanese["title"] == "ペーパー・ハウス" and japanese["footer"]["text"].startswith(ENGLISH_TEXT_NOTE["ja"])
    english = await show_in("en-US")
    assert english["title"] == "Money Heist" and "Synopsis in English" not in english["footer"]["text"]
