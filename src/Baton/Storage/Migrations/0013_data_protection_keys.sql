-- The keys that protect dashboard cookies and form tokens, for nodes sharing one database (PostgreSQL): a cookie one
-- api node issued must open on every other. One process on SQLite keeps them in <data dir>/data-protection instead;
-- the table exists on both so that the two schemas stay the same.
CREATE TABLE data_protection_keys (
    name        TEXT PRIMARY KEY,
    xml         TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
