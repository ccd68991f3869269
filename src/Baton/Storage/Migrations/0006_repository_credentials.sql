-- Credentials never live in a repository's URL (issue 9). A repository that needs one names a server environment
-- variable, chosen by an admin; it is kept apart from the row that every viewer reads. IF NOT EXISTS and the
-- idempotent updates below let this migration run again safely.
CREATE TABLE IF NOT EXISTS repository_credentials (
    repository_id  TEXT PRIMARY KEY REFERENCES repositories(id) ON DELETE CASCADE,
    env            TEXT NOT NULL,      -- the NAME of the variable holding user:token, never its value
    set_by         TEXT,
    set_at         INTEGER NOT NULL
);

-- Strip the user info of http(s) and git URLs, and an ssh URL's user:password (its lone user name stays): each
-- statement removes everything up to the first '@' of the authority, so it runs a few times for '@' in a password.
UPDATE repositories SET url = substr(url, 1, instr(url, '://') + 2) || substr(url, instr(url, '://') + 3 + instr(substr(url, instr(url, '://') + 3), '@'))
WHERE instr(url, '://') > 0
  AND instr(substr(url, instr(url, '://') + 3), '@') > 0
  AND (instr(substr(url, instr(url, '://') + 3), '/') = 0 OR instr(substr(url, instr(url, '://') + 3), '@') < instr(substr(url, instr(url, '://') + 3), '/'))
  AND NOT (lower(substr(url, 1, 6)) = 'ssh://' AND instr(substr(url, 7, instr(substr(url, 7), '@') - 1), ':') = 0);
UPDATE repositories SET url = substr(url, 1, instr(url, '://') + 2) || substr(url, instr(url, '://') + 3 + instr(substr(url, instr(url, '://') + 3), '@'))
WHERE instr(url, '://') > 0
  AND instr(substr(url, instr(url, '://') + 3), '@') > 0
  AND (instr(substr(url, instr(url, '://') + 3), '/') = 0 OR instr(substr(url, instr(url, '://') + 3), '@') < instr(substr(url, instr(url, '://') + 3), '/'))
  AND NOT (lower(substr(url, 1, 6)) = 'ssh://' AND instr(substr(url, 7, instr(substr(url, 7), '@') - 1), ':') = 0);
UPDATE repositories SET url = substr(url, 1, instr(url, '://') + 2) || substr(url, instr(url, '://') + 3 + instr(substr(url, instr(url, '://') + 3), '@'))
WHERE instr(url, '://') > 0
  AND instr(substr(url, instr(url, '://') + 3), '@') > 0
  AND (instr(substr(url, instr(url, '://') + 3), '/') = 0 OR instr(substr(url, instr(url, '://') + 3), '@') < instr(substr(url, instr(url, '://') + 3), '/'))
  AND NOT (lower(substr(url, 1, 6)) = 'ssh://' AND instr(substr(url, 7, instr(substr(url, 7), '@') - 1), ':') = 0);
UPDATE repositories SET url = substr(url, 1, instr(url, '://') + 2) || substr(url, instr(url, '://') + 3 + instr(substr(url, instr(url, '://') + 3), '@'))
WHERE instr(url, '://') > 0
  AND instr(substr(url, instr(url, '://') + 3), '@') > 0
  AND (instr(substr(url, instr(url, '://') + 3), '/') = 0 OR instr(substr(url, instr(url, '://') + 3), '@') < instr(substr(url, instr(url, '://') + 3), '/'))
  AND NOT (lower(substr(url, 1, 6)) = 'ssh://' AND instr(substr(url, 7, instr(substr(url, 7), '@') - 1), ':') = 0);
