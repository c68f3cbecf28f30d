-- Weekly posts, version 2: what the scheduler needs beyond 0001 (see bot/weekly.py).

-- When the current weekly schedule was set: a scheduled instant before it is never caught up, so configuring
-- "Monday 18:00" on a Tuesday does not post at once for yesterday.
ALTER TABLE guild_settings ADD COLUMN weekly_since TEXT;

-- How many times the week's post was attempted, and from when a 'claimed' row (the process may have died while
-- posting) or a transiently 'failed' one (429/5xx after the poster's own retries) may be taken again. NULL: never.
ALTER TABLE weekly_posts ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE weekly_posts ADD COLUMN retry_at TEXT;
