-- Twin of sqlite/0009_show_translations.sql: show titles and synopses in other languages (TMDB's translations).
CREATE TABLE show_translations (
    show_id    BIGINT NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    language   TEXT NOT NULL,
    title      TEXT,
    synopsis   TEXT,
    source     TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (show_id, language)
);
