-- Twin of sqlite/0005_release_previous_episode.sql: when the episode before a release aired.
ALTER TABLE releases ADD COLUMN previous_episode TEXT;
