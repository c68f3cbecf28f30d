-- Two more ways to vote: 'poll' (an answer chosen in a watch night's native poll) and 'button' (the 👍/👎 buttons
-- on a card used where the bot cannot read reactions, such as a user-installed command in a direct message).
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt with the same rows and indexes.
CREATE TABLE votes_new (
    guild_id   INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    show_id    INTEGER NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    value      INTEGER NOT NULL CHECK (value IN (-1, 1)),
    source     TEXT NOT NULL CHECK (source IN ('reaction', 'command', 'reconcile', 'import', 'poll', 'button')),
    message_id INTEGER,
    emoji      TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (guild_id, user_id, show_id)
) WITHOUT ROWID;
INSERT INTO votes_new (guild_id, user_id, show_id, value, source, message_id, emoji, updated_at)
    SELECT guild_id, user_id, show_id, value, source, message_id, emoji, updated_at FROM votes;
DROP TABLE votes;
ALTER TABLE votes_new RENAME TO votes;
CREATE INDEX votes_guild_show ON votes (guild_id, show_id);
CREATE INDEX votes_show ON votes (show_id);
