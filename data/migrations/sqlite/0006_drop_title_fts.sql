-- The titles' FTS5 trigram index (title_fts, from 0001) goes, with the triggers that kept it in step with
-- show_titles on every write: the bot never read it. Title search is the in-memory index (bot.catalog.index, loaded
-- from shows and show_titles); only bench/autocomplete.py compared against FTS5, and it now builds its own table in
-- a database of its own.
DROP TRIGGER show_titles_fts_insert;
DROP TRIGGER show_titles_fts_delete;
DROP TRIGGER show_titles_fts_update;
DROP TABLE title_fts;
