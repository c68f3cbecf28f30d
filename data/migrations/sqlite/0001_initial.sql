-- Showbot schema, version 1: the whole product's storage.
-- Applied by bot/db.py inside one transaction; PRAGMA user_version is set by the runner.
-- Dates are ISO 8601 text: 'YYYY-MM-DD' for calendar dates, 'YYYY-MM-DDTHH:MM:SS+00:00' for instants (UTC).

-- Catalog ----------------------------------------------------------------------------------------------------------

CREATE TABLE shows (
    id              INTEGER PRIMARY KEY,
    title           TEXT NOT NULL CHECK (length(title) > 0),
    title_norm      TEXT NOT NULL,              -- bot.text.normalise(title): matching key for imports
    kind            TEXT,                       -- scripted, reality, documentary, animation, talk show, ...
    premiered       TEXT,                       -- first air date
    ended           TEXT,
    status          TEXT,                       -- running, ended, in development, ...
    seasons         INTEGER CHECK (seasons IS NULL OR seasons >= 0),
    episodes        INTEGER CHECK (episodes IS NULL OR episodes >= 0),
    runtime         INTEGER CHECK (runtime IS NULL OR runtime >= 0),  -- minutes per episode
    language        TEXT,
    country         TEXT,                       -- ISO 3166-1 alpha-2
    content_rating  TEXT,
    network         TEXT,                       -- broadcast network or streaming service of the premiere
    official_site   TEXT,
    poster_url      TEXT,
    synopsis        TEXT,
    synopsis_source TEXT,                       -- who wrote the synopsis (attribution)
    tvmaze_id       INTEGER UNIQUE,
    tmdb_id         INTEGER UNIQUE,
    imdb_id         TEXT UNIQUE,
    netflix_id      TEXT UNIQUE,                -- show_id of the Kaggle Netflix titles dataset
    popularity      REAL NOT NULL DEFAULT 0,    -- overall popularity prior, higher is better known
    source          TEXT NOT NULL DEFAULT 'showbot',  -- the source the record came from first
    updated_at      TEXT NOT NULL
);
CREATE INDEX shows_title_norm ON shows (title_norm);
CREATE INDEX shows_premiered ON shows (premiered);

-- Every title a show is known by: the primary one (kept in step with shows.title by triggers) and alternative or
-- original-language ones ("La casa de papel" for Money Heist). title_fts indexes them all.
CREATE TABLE show_titles (
    id         INTEGER PRIMARY KEY,
    show_id    INTEGER NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    title      TEXT NOT NULL CHECK (length(title) > 0),
    title_norm TEXT NOT NULL,
    is_primary INTEGER NOT NULL DEFAULT 0 CHECK (is_primary IN (0, 1)),
    UNIQUE (show_id, title_norm)
);
CREATE INDEX show_titles_norm ON show_titles (title_norm);

-- Which sources contributed to a show: drives the attribution footer (TVmaze CC BY-SA, TMDB notice, ...).
CREATE TABLE show_sources (
    show_id    INTEGER NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    source     TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (show_id, source)
) WITHOUT ROWID;

CREATE TABLE genres (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE
);

CREATE TABLE show_genres (
    show_id  INTEGER NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    genre_id INTEGER NOT NULL REFERENCES genres (id) ON DELETE CASCADE,
    PRIMARY KEY (show_id, genre_id)
) WITHOUT ROWID;
CREATE INDEX show_genres_genre ON show_genres (genre_id);

CREATE TABLE people (
    id        INTEGER PRIMARY KEY,
    name      TEXT NOT NULL CHECK (length(name) > 0),
    name_norm TEXT NOT NULL,
    tvmaze_id INTEGER UNIQUE,
    tmdb_id   INTEGER UNIQUE,
    imdb_id   TEXT UNIQUE
);
CREATE INDEX people_name_norm ON people (name_norm);

-- Cast (with character and billing order), creators, and other crew (job says which).
CREATE TABLE credits (
    id        INTEGER PRIMARY KEY,
    show_id   INTEGER NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    role      TEXT NOT NULL CHECK (role IN ('cast', 'creator', 'crew')),
    character TEXT NOT NULL DEFAULT '',         -- cast: the character played
    job       TEXT NOT NULL DEFAULT '',         -- crew: director, showrunner, composer, ...
    billing   INTEGER NOT NULL DEFAULT 0,       -- order within the role, 0 first
    source    TEXT NOT NULL DEFAULT 'showbot',
    UNIQUE (show_id, role, person_id, character, job)
);
CREATE INDEX credits_show ON credits (show_id, role, billing);
CREATE INDEX credits_person ON credits (person_id);

CREATE TABLE videos (
    id       INTEGER PRIMARY KEY,
    show_id  INTEGER NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    url      TEXT NOT NULL,
    site     TEXT,                              -- YouTube, Vimeo, ...
    kind     TEXT NOT NULL DEFAULT 'trailer',   -- trailer, teaser, clip, featurette
    name     TEXT,
    official INTEGER NOT NULL DEFAULT 0 CHECK (official IN (0, 1)),
    season   INTEGER,
    source   TEXT NOT NULL DEFAULT 'showbot',
    UNIQUE (show_id, url)
);

-- Release events: what "new this week" is made of.
CREATE TABLE releases (
    id      INTEGER PRIMARY KEY,
    show_id INTEGER NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    kind    TEXT NOT NULL CHECK (kind IN ('premiere', 'season_premiere', 'episodes', 'added')),
    date    TEXT NOT NULL,                      -- 'YYYY-MM-DD', or an instant when the source gives a time
    season  INTEGER,
    service TEXT NOT NULL DEFAULT '',
    region  TEXT NOT NULL DEFAULT '',
    source  TEXT NOT NULL DEFAULT 'showbot',
    UNIQUE (show_id, kind, date, service, region)
);
CREATE INDEX releases_date ON releases (date);

-- Where a show can be watched, per service and region.
CREATE TABLE availability (
    show_id    INTEGER NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    service    TEXT NOT NULL,
    region     TEXT NOT NULL DEFAULT '',
    kind       TEXT NOT NULL DEFAULT 'stream',  -- stream, free, ads, rent, buy
    link       TEXT,
    source     TEXT NOT NULL DEFAULT 'showbot',
    updated_at TEXT NOT NULL,
    PRIMARY KEY (show_id, service, region, kind)
) WITHOUT ROWID;

-- Title search: a trigram full-text index over show_titles (external content), kept in sync by triggers.
-- It indexes title_norm (lower case, accents and punctuation removed in Python): SQLite 3.40's trigram tokenizer
-- cannot strip diacritics itself.
CREATE VIRTUAL TABLE title_fts USING fts5 (
    title_norm, content = 'show_titles', content_rowid = 'id', tokenize = 'trigram'
);

CREATE TRIGGER shows_primary_title_insert AFTER INSERT ON shows BEGIN
    DELETE FROM show_titles WHERE show_id = new.id AND title_norm = new.title_norm;
    INSERT INTO show_titles (show_id, title, title_norm, is_primary) VALUES (new.id, new.title, new.title_norm, 1);
END;
CREATE TRIGGER shows_primary_title_update AFTER UPDATE OF title, title_norm ON shows BEGIN
    DELETE FROM show_titles WHERE show_id = new.id AND (is_primary = 1 OR title_norm = new.title_norm);
    INSERT INTO show_titles (show_id, title, title_norm, is_primary) VALUES (new.id, new.title, new.title_norm, 1);
END;
CREATE TRIGGER show_titles_fts_insert AFTER INSERT ON show_titles BEGIN
    INSERT INTO title_fts (rowid, title_norm) VALUES (new.id, new.title_norm);
END;
CREATE TRIGGER show_titles_fts_delete AFTER DELETE ON show_titles BEGIN
    INSERT INTO title_fts (title_fts, rowid, title_norm) VALUES ('delete', old.id, old.title_norm);
END;
CREATE TRIGGER show_titles_fts_update AFTER UPDATE ON show_titles BEGIN
    INSERT INTO title_fts (title_fts, rowid, title_norm) VALUES ('delete', old.id, old.title_norm);
    INSERT INTO title_fts (rowid, title_norm) VALUES (new.id, new.title_norm);
END;

-- Votes ------------------------------------------------------------------------------------------------------------

-- One vote per server, member and show. message_id/emoji remember which reaction set the current vote, so that
-- removing exactly that reaction retracts it.
CREATE TABLE votes (
    guild_id   INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    show_id    INTEGER NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    value      INTEGER NOT NULL CHECK (value IN (-1, 1)),
    source     TEXT NOT NULL CHECK (source IN ('reaction', 'command', 'reconcile', 'import')),
    message_id INTEGER,
    emoji      TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (guild_id, user_id, show_id)
) WITHOUT ROWID;
CREATE INDEX votes_guild_show ON votes (guild_id, show_id);
CREATE INDEX votes_show ON votes (show_id);

-- Messages the bot posted that can be voted on.
CREATE TABLE vote_messages (
    message_id INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    kind       TEXT NOT NULL,                   -- show, list, weekly, top, recommend
    created_at TEXT NOT NULL,
    active     INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))  -- 0 once deleted: votes stay
);
CREATE INDEX vote_messages_active ON vote_messages (active, created_at);
CREATE INDEX vote_messages_channel ON vote_messages (channel_id);
CREATE INDEX vote_messages_guild ON vote_messages (guild_id);

-- Which emoji on which message means which show and which vote.
CREATE TABLE vote_emoji (
    message_id INTEGER NOT NULL REFERENCES vote_messages (message_id) ON DELETE CASCADE,
    emoji      TEXT NOT NULL,
    show_id    INTEGER NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    value      INTEGER NOT NULL CHECK (value IN (-1, 1)),
    PRIMARY KEY (message_id, emoji)
) WITHOUT ROWID;

-- Servers ----------------------------------------------------------------------------------------------------------

CREATE TABLE guild_settings (
    guild_id          INTEGER PRIMARY KEY,
    weekly_enabled    INTEGER NOT NULL DEFAULT 0 CHECK (weekly_enabled IN (0, 1)),
    weekly_channel_id INTEGER,
    weekly_weekday    INTEGER CHECK (weekly_weekday IS NULL OR weekly_weekday BETWEEN 0 AND 6),  -- 0 = Monday
    weekly_time       TEXT,                     -- 'HH:MM' local time
    weekly_timezone   TEXT,                     -- IANA name
    weekly_problem    TEXT,                     -- set when a post could not be made; shown by /weekly status
    region            TEXT,                     -- ISO 3166-1 alpha-2 for where-to-watch
    updated_at        TEXT NOT NULL
);

-- One row per server and week: a restart or two overlapping ticks never post twice.
CREATE TABLE weekly_posts (
    guild_id      INTEGER NOT NULL,
    week          TEXT NOT NULL,                -- the scheduled instant (UTC ISO) identifies the week
    status        TEXT NOT NULL CHECK (status IN ('claimed', 'posted', 'skipped', 'failed')),
    channel_id    INTEGER,
    message_id    INTEGER,
    detail        TEXT,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (guild_id, week)
) WITHOUT ROWID;

-- Bot state ------------------------------------------------------------------------------------------------------

-- Small key/value facts: the hash of the last synced command tree, the last catalog sync times, ...
CREATE TABLE bot_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
