-- One-time sign-in links for the dashboard (`baton up` prints one; `baton dashboard` asks for another).
-- Only the code's hash is kept, as for API keys; a link signs a browser in as its key, once, before it expires.
CREATE TABLE signin_links (
    code_hash   TEXT PRIMARY KEY,
    key_id      TEXT NOT NULL REFERENCES api_keys(id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
