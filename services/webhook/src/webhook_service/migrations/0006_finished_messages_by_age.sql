-- The dispatcher's janitor deletes messages past their retention (their attempts go with
-- them), oldest first; pending ones are never pruned.
CREATE INDEX webhook_messages_finished_by_age ON webhook_messages (created_at)
    WHERE state <> 'pending';
