-- A dashboard sign-in is a row here as well as a cookie. Signing out deletes the row, so a copy of the cookie (a
-- shared computer, a browser profile backup, a saved HAR file) stops working at once instead of for 12 hours.
CREATE TABLE dashboard_sessions (
    id          TEXT PRIMARY KEY,
    key_id      TEXT NOT NULL REFERENCES api_keys(id),
    created_at  INTEGER NOT NULL
);
