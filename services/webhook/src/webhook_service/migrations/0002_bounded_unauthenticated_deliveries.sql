-- Where each delivery came from, and the digest of its exact body: a request that failed
-- authentication keeps only the start of its body, so the digest is what matches it to the
-- bytes a sender says it sent.
ALTER TABLE webhook_deliveries
    ADD COLUMN source_address text,
    ADD COLUMN body_sha256 text;

-- Requests that failed authentication were kept whole: bring them under the new rule (the
-- first kilobyte of the body, its digest, and only headers that cannot carry a credential).
UPDATE webhook_deliveries
   SET body_sha256 = CASE WHEN body IS NULL THEN NULL ELSE encode(sha256(body), 'hex') END,
       body = substring(body FROM 1 FOR 1024),
       headers = (
           SELECT coalesce(jsonb_object_agg(key, to_jsonb(left(value #>> '{}', 256))), '{}')
             FROM jsonb_each(headers)
            WHERE key IN ('content-type', 'content-length', 'user-agent', 'psp-signature',
                          'x-request-id', 'x-correlation-id', 'x-forwarded-for')
       )
 WHERE verdict = 'rejected' AND signed_at IS NULL;

-- What anyone can make us store stays small: without a verified signature, at most the first
-- kilobyte of the body.
ALTER TABLE webhook_deliveries
    ADD CONSTRAINT unauthenticated_body_is_bounded
    CHECK (signed_at IS NOT NULL OR body IS NULL OR octet_length(body) <= 1024);

-- Rejected deliveries are pruned by age; this keeps the prune off the accepted rows.
CREATE INDEX webhook_deliveries_rejected_by_received_at
    ON webhook_deliveries (received_at) WHERE verdict = 'rejected';
