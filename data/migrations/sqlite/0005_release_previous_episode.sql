-- When a source says when the episode before a release aired (TMDB's last_episode_to_air for a show on the air),
-- the release keeps that date: the weekly post calls a season premiere after a long break a return
-- (bot.weekly.RETURN_AFTER; docs/weekly.md). NULL when the source did not say.
ALTER TABLE releases ADD COLUMN previous_episode TEXT;
