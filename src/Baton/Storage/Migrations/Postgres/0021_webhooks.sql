-- Webhooks (issue 13): an admin's subscription of a URL to some event types, signed with its secret, and one row per
-- delivery of one event to one webhook. The delivery's job (kind deliver_webhook, run_id = the delivery id) carries
-- its retries; the row keeps what happened, so the same delivery id goes out on every retry and after a restart.
CREATE TABLE webhooks (
    id          text COLLATE "C" PRIMARY KEY,
    url         text NOT NULL,
    secret      text NOT NULL,
    events      text NOT NULL,
    created_by  text COLLATE "C",
    created_at  bigint NOT NULL
);
CREATE TABLE webhook_deliveries (
    id                text COLLATE "C" PRIMARY KEY,
    webhook_id        text COLLATE "C" NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event             text COLLATE "C" NOT NULL,
    run_id            text COLLATE "C" NOT NULL,
    payload           text NOT NULL,
    status            text COLLATE "C" NOT NULL,
    attempts          integer NOT NULL DEFAULT 0,
    last_status_code  integer,
    last_error        text,
    created_at        bigint NOT NULL,
    delivered_at      bigint
);
CREATE INDEX ix_webhook_deliveries_webhook ON webhook_deliveries(webhook_id, created_at);
