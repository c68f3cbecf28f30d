-- Show titles and synopses in other languages (TMDB's translations, `catalog sync tmdb --translations`): a card shows
-- the member's language (the interaction's locale) where a translation exists, else the English text, marked as
-- such. Translated titles are also alternative titles (show_titles), so autocomplete finds a show by them.
CREATE TABLE show_translations (
    show_id    INTEGER NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    language   TEXT NOT NULL,                   -- ISO 639-1, a hyphen and ISO 3166-1 as TMDB pairs them: 'de-DE', 'pt-BR'
    title      TEXT,                            -- NULL: the source had no title in that language
    synopsis   TEXT,
    source     TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (show_id, language)
);
