-- Twin of sqlite/0004_field_sources.sql: which source gave each fact of a show.
CREATE TABLE show_field_sources (
    show_id    BIGINT NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    field      TEXT NOT NULL,
    source     TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (show_id, field)
);
