-- The inbox is pruned by age per consumer group (see paykit.consumer.inbox): this index keeps
-- the pruning query from scanning every row.
CREATE INDEX inbox_processed_at ON inbox (consumer, processed_at);
