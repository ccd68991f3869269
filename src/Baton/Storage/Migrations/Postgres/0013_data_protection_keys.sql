-- The keys that protect dashboard cookies and form tokens, shared by every node: a cookie one api node issued must
-- open on every other.
CREATE TABLE data_protection_keys (
    name        text COLLATE "C" PRIMARY KEY,
    xml         text NOT NULL,
    created_at  bigint NOT NULL
);
