-- Twin of sqlite/0006_drop_title_fts.sql: nothing to do. SQLite drops its FTS5 title index here; PostgreSQL's 0001
-- never created one (title search is the in-memory index, bot.catalog.index).
SELECT 1;
