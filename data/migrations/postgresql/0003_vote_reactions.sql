-- Twin of sqlite/0003_vote_reactions.sql: the reactions the bot last saw on its votable messages.
CREATE TABLE vote_reactions (
    message_id BIGINT NOT NULL REFERENCES vote_messages (message_id) ON DELETE CASCADE,
    emoji      TEXT NOT NULL,
    user_id    BIGINT NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
);
