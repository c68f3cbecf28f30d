-- The reactions the bot last saw on its votable messages (mapped emoji only, members only).
-- Reconciliation after downtime compares this with the reactions Discord reports: the differences are exactly what
-- happened while the bot was offline, so a restart with nothing changed offline changes no vote. Kept by /forgetme
-- (they mirror public reaction state, not votes): deleting them would make the next reconciliation re-add the votes.
CREATE TABLE vote_reactions (
    message_id INTEGER NOT NULL REFERENCES vote_messages (message_id) ON DELETE CASCADE,
    emoji      TEXT NOT NULL,
    user_id    INTEGER NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
) WITHOUT ROWID;
