-- Twin of sqlite/0008_vote_sources.sql: votes.source also allows 'poll' (a watch night's poll answer) and 'button'
-- (a card's vote buttons). PostgreSQL changes a CHECK constraint in place; no rebuild.
ALTER TABLE votes DROP CONSTRAINT votes_source_check;
ALTER TABLE votes ADD CONSTRAINT votes_source_check
    CHECK (source IN ('reaction', 'command', 'reconcile', 'import', 'poll', 'button'));
