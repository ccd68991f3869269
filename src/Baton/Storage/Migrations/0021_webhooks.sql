-- Webhooks (issue 13): an admin's subscription of a URL to some event types, signed with its secret, and one row per
-- delivery of one event to one webhook. The delivery's job (kind deliver_webhook, run_id = the delivery id) carries
-- its retries; the row keeps what happened, so the same delivery id goes out on every retry and after a restart.
CREATE TABLE webhooks (
    id          TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    events      TEXT NOT NULL,
    created_by  TEXT,
    created_at  INTEGER NOT NULL
);
CREATE TABLE webhook_deliveries (
    id                TEXT PRIMARY KEY,
    webhook_id        TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event             TEXT NOT NULL,
    run_id            TEXT NOT NULL,
    payload           TEXT NOT NULL,
    status            TEXT NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_status_code  INTEGER,
    last_error        TEXT,
    created_at        INTEGER NOT NULL,
    delivered_at      INTEGER
);
CREATE INDEX ix_webhook_deliveries_webhook ON webhook_deliveries(webhook_id, created_at);
