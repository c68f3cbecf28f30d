-- Twin of sqlite/0002_weekly_schedule.sql: when the weekly schedule was set; attempts and retry time per week.
ALTER TABLE guild_settings ADD COLUMN weekly_since TEXT;
ALTER TABLE weekly_posts ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE weekly_posts ADD COLUMN retry_at TEXT;
