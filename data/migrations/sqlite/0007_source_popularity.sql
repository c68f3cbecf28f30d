-- Each live source's own popularity number, as the source gave it: TVmaze's weight (0-100) and TMDB's popularity (an
-- unbounded number on a scale of its own). shows.popularity, which the bot reads, is derived from them
-- (bot.catalog.popularity: the mean, over the sources a show has, of its percentile rank among the catalog's shows
-- with that source's number), recomputed after each import that changed one of them.
ALTER TABLE shows ADD COLUMN tvmaze_weight REAL;
ALTER TABLE shows ADD COLUMN tmdb_popularity REAL;
-- The derivation counts the shows per value of each number: from these indexes, without reading the shows' rows.
CREATE INDEX shows_tvmaze_weight ON shows (tvmaze_weight) WHERE tvmaze_weight IS NOT NULL;
CREATE INDEX shows_tmdb_popularity ON shows (tmdb_popularity) WHERE tmdb_popularity IS NOT NULL;

-- Until now shows.popularity held TVmaze's weight wherever TVmaze gave it (no other source set it but a catalog
-- file): keep that number as TVmaze's own. shows.popularity keeps its value, which orders these shows as their
-- percentile does, until the next import that changes a source's number derives it.
UPDATE shows SET tvmaze_weight = popularity
WHERE popularity IS NOT NULL
  AND COALESCE(
        (SELECT f.source FROM show_field_sources f WHERE f.show_id = shows.id AND f.field = 'popularity'),
        shows.source
      ) = 'tvmaze';
-- A derived popularity has no single source: catalog show --json names the sources it is derived from instead.
DELETE FROM show_field_sources
WHERE field = 'popularity' AND show_id IN (SELECT id FROM shows WHERE tvmaze_weight IS NOT NULL);
