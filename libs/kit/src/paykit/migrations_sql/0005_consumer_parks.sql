-- A consumer group parked by its DLQ limit stays parked, across restarts and on every replica,
-- until an operator resumes it (python -m paykit.consumer resume GROUP). Rows are kept as the
-- history of parks; at most one per group is open.
CREATE TABLE consumer_parks (
    id          bigserial PRIMARY KEY,
    consumer    text NOT NULL,
    reason      text NOT NULL,
    parked_at   timestamptz NOT NULL DEFAULT now(),
    resumed_at  timestamptz,
    resumed_by  text,
    CHECK ((resumed_at IS NULL) = (resumed_by IS NULL))
);
CREATE UNIQUE INDEX consumer_parks_open ON consumer_parks (consumer) WHERE resumed_at IS NULL;
