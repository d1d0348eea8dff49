-- A rotated key is published before it signs (signs_from), so that every verifier, which
-- refreshes its JWKS at most every few seconds, can fetch it before the first token it signed
-- arrives. The key that signs is the latest whose signs_from has come.
ALTER TABLE signing_keys ADD COLUMN signs_from timestamptz;
UPDATE signing_keys SET signs_from = created_at;
ALTER TABLE signing_keys ALTER COLUMN signs_from SET NOT NULL;
ALTER TABLE signing_keys ALTER COLUMN signs_from SET DEFAULT now();
DROP INDEX one_signing_key_signs;
-- Only one key is ever waiting to sign, and only one has not been retired.
CREATE UNIQUE INDEX one_key_not_retired ON signing_keys ((true)) WHERE retired_at IS NULL;
CREATE INDEX signing_keys_by_activation ON signing_keys (signs_from DESC);
