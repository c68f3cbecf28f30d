-- Which source gave each fact of a show, where it is not the show's own first source (shows.source): the merge
-- policy reads it (curated facts win for what the editors wrote; facts that change over time take the newest live
-- source's value), and `catalog show --json` reports it per field. Most shows have no rows: every fact of a show
-- read only from TVmaze's index came from TVmaze, which shows.source already says.
CREATE TABLE show_field_sources (
    show_id    INTEGER NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    field      TEXT NOT NULL,              -- a column of shows: status, network, poster_url, ...
    source     TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (show_id, field)
) WITHOUT ROWID;
