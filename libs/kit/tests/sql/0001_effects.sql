-- A handler's observable effect in the kit's tests: one row per application, no uniqueness, so
-- an effect applied twice shows as two rows.
CREATE TABLE effects (
    seq        bigserial PRIMARY KEY,
    event_id   text NOT NULL,
    key        text NOT NULL,
    label      text NOT NULL,
    topic      text NOT NULL DEFAULT ''
);
