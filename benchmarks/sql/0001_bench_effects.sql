-- The benchmark handler's effect: one row per applied event, labelled with the consumer group
-- that applied it, so several runs can share one scratch database.
CREATE TABLE bench_effects (
    id        bigserial PRIMARY KEY,
    consumer  text NOT NULL,
    event_id  text NOT NULL,
    amount    bigint NOT NULL
);
CREATE INDEX bench_effects_consumer ON bench_effects (consumer);
