#!/usr/bin/env python3
"""Compares the PostgreSQL schema with the SQLite one that every migration builds.

Usage: python3 tests/schema-parity.py --pg "host=127.0.0.1 port=P user=postgres dbname=X"

The PostgreSQL database must already hold every migration of src/Baton/Storage/Migrations/Postgres (a database a
Baton server migrated, e.g. one started with BATON_DATABASE pointing at it). The SQLite side is built here, in memory,
from every src/Baton/Storage/Migrations/*.sql with Python's sqlite3. Both sides are read the same
way: tables, columns (name, NOT NULL, primary key, a compatible type), indexes by name (columns, DESC, partial
predicate, unique), unique constraints and foreign keys by their columns (names differ by engine), and trigger names.
Differences made on purpose are printed as "expected" with their reason; any other is "unexpected" and exits 1.
Needs only the standard library and psql on PATH.
"""

import argparse
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "src" / "Baton" / "Storage" / "Migrations"
IGNORED_TABLES = {"schema_migrations"}  # made by the migration runner on both engines, not by a migration

# The PostgreSQL types a SQLite declared type may become (issue 11 plan, section 2).
COMPATIBLE = {
    "INTEGER": {"integer", "bigint", "boolean"},
    "TEXT": {"text", "jsonb"},
    "REAL": {"numeric", "double precision"},
    "BLOB": {"bytea"},
}

# run_counts is append-only on PostgreSQL (see 0011_schema.sql): a key holds many rows, so it has no primary key and
# a plain index on the same columns instead.
RUN_COUNTS_KEY = ("profile", "project_name", "status")
# On PostgreSQL events get their public id (seq) after commit (0014, ADR 27): rows are keyed by an insert-order `pos`
# until then, seq is unique and nullable, and a partial index finds the rows still waiting.
EVENTS_AFTER_COMMIT = "events get their ids after commit on PostgreSQL (ADR 27)"
# SQLite's triggers fire for one event each and it has no TRUNCATE: the audit log (0022, ADR 36) takes two triggers
# there, and one for UPDATE OR DELETE plus one for TRUNCATE on PostgreSQL.
AUDIT_APPEND_ONLY = "the audit log is append-only on both engines, with the triggers each has (0022, ADR 36)"
AUDIT_TRIGGERS = {"tr_audit_log_no_update", "tr_audit_log_no_delete", "tr_audit_log_no_change", "tr_audit_log_no_truncate"}
PK_IMPLIES_NOT_NULL = (
    "a PostgreSQL primary key is NOT NULL; SQLite lets a non-INTEGER PRIMARY KEY hold NULL (a historical quirk) and "
    "reports an INTEGER PRIMARY KEY, the rowid, as nullable"
)


def sqlite_schema():
    db = sqlite3.connect(":memory:")
    db.execute("PRAGMA foreign_keys=ON")
    files = sorted(MIGRATIONS.glob("*.sql"))
    if [int(f.name.split("_")[0]) for f in files] != list(range(1, len(files) + 1)):
        sys.exit(f"expected SQLite migrations numbered from 0001 without gaps in {MIGRATIONS}, found {[f.name for f in files]}")
    for f in files:
        db.executescript(f.read_text(encoding="utf-8"))

    schema = {"tables": {}, "indexes": {}, "uniques": set(), "fks": set(), "triggers": set()}
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    for t in tables:
        if t in IGNORED_TABLES:
            continue
        cols = {}
        for _, name, decl, notnull, _, pk in db.execute(f"PRAGMA table_info('{t}')"):
            cols[name] = {"type": decl.upper(), "notnull": bool(notnull), "pk": pk}
        schema["tables"][t] = cols
        for _, iname, unique, origin, partial in db.execute(f"PRAGMA index_list('{t}')"):
            keys = [(r[2], bool(r[3])) for r in db.execute(f"PRAGMA index_xinfo('{iname}')") if r[5] == 1]
            if origin == "u":
                schema["uniques"].add((t, tuple(k for k, _ in keys)))
            if origin != "c":
                continue  # a primary key's or UNIQUE's own index: compared as a constraint
            sql = db.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (iname,)).fetchone()[0]
            where = re.search(r"\bWHERE\b(.*)$", sql, re.IGNORECASE | re.DOTALL) if partial else None
            schema["indexes"][iname] = {
                "table": t,
                "columns": tuple(keys),
                "unique": bool(unique),
                "where": normalize(where.group(1)) if where else None,
            }
        for _, _, ref, col, to, _, on_delete, _ in db.execute(f"PRAGMA foreign_key_list('{t}')"):
            schema["fks"].add((t, col, ref, to, on_delete.upper()))
    schema["triggers"] = {(r[0], r[1]) for r in db.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'")}
    return schema


def psql(conninfo, sql):
    out = subprocess.run(
        ["psql", "-X", "-q", "-A", "-t", "-F", "\x1f", "-v", "ON_ERROR_STOP=1", conninfo, "-c", sql],
        check=True, capture_output=True, text=True).stdout
    return [line.split("\x1f") for line in out.splitlines() if line]


def pg_schema(conninfo):
    schema = {"tables": {}, "indexes": {}, "uniques": set(), "fks": set(), "triggers": set()}
    for (t,) in psql(conninfo, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"):
        if t not in IGNORED_TABLES:
            schema["tables"][t] = {}
    for t, name, nullable, dtype in psql(conninfo, """
            SELECT table_name, column_name, is_nullable, data_type FROM information_schema.columns WHERE table_schema = 'public'"""):
        if t in schema["tables"]:
            schema["tables"][t][name] = {"type": dtype, "notnull": nullable == "NO", "pk": 0}
    for t, name, pos in psql(conninfo, """
            SELECT tc.table_name, kcu.column_name, kcu.ordinal_position
            FROM information_schema.table_constraints tc
            JOIN information_schema.key_column_usage kcu
              ON kcu.constraint_schema = tc.constraint_schema AND kcu.constraint_name = tc.constraint_name
            WHERE tc.table_schema = 'public' AND tc.constraint_type = 'PRIMARY KEY'"""):
        if t in schema["tables"]:
            schema["tables"][t][name]["pk"] = int(pos)

    # pg_indexes names every index; pg_index says which back a constraint and gives each key's column and order.
    names = {r[0] for r in psql(conninfo, "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
    for iname, t, unique, constraint, keys, where in psql(conninfo, """
            SELECT ic.relname, tc.relname, i.indisunique,
                   COALESCE((SELECT c.contype FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u')), ''),
                   (SELECT string_agg(pg_get_indexdef(i.indexrelid, k, true) || ':' || ((i.indoption[k - 1] & 1) = 1), ',' ORDER BY k)
                    FROM generate_series(1, i.indnkeyatts) AS k),
                   COALESCE(pg_get_expr(i.indpred, i.indrelid), '')
            FROM pg_index i
            JOIN pg_class ic ON ic.oid = i.indexrelid
            JOIN pg_class tc ON tc.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = tc.relnamespace
            WHERE n.nspname = 'public'"""):
        assert iname in names, iname
        columns = tuple((k.rsplit(":", 1)[0], k.rsplit(":", 1)[1] == "true") for k in keys.split(","))
        if t in IGNORED_TABLES:
            continue
        if constraint == "u":
            schema["uniques"].add((t, tuple(c for c, _ in columns)))
        if constraint:
            continue
        schema["indexes"][iname] = {"table": t, "columns": columns, "unique": unique == "t", "where": normalize(where) or None}

    actions = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
    for t, col, ref, to, on_delete in psql(conninfo, """
            SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text, fa.attname, c.confdeltype
            FROM pg_constraint c
            JOIN pg_namespace n ON n.oid = c.connamespace
            CROSS JOIN LATERAL unnest(c.conkey, c.confkey) AS k(col, refcol)
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.col
            JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = k.refcol
            WHERE c.contype = 'f' AND n.nspname = 'public'"""):
        schema["fks"].add((t, col, ref, to, actions[on_delete]))
    schema["triggers"] = {(r[0], r[1]) for r in psql(conninfo, """
            SELECT DISTINCT trigger_name, event_object_table FROM information_schema.triggers WHERE trigger_schema = 'public'""")}
    return schema


def normalize(predicate):
    return re.sub(r"[\s()]", "", predicate or "").lower()


def compare(lite, pg):
    expected, unexpected = [], []

    def diff(kind, what, reason=None):
        (expected if reason else unexpected).append(f"{kind}: {what}" + (f"  ({reason})" if reason else ""))

    for t in sorted(lite["tables"].keys() - pg["tables"].keys()):
        diff("missing table", t)
    for t in sorted(pg["tables"].keys() - lite["tables"].keys()):
        diff("extra table", t)

    pk_not_null = []
    for t in sorted(lite["tables"].keys() & pg["tables"].keys()):
        lc, pc = lite["tables"][t], pg["tables"][t]
        for c in sorted(lc.keys() - pc.keys()):
            diff("missing column", f"{t}.{c}")
        for c in sorted(pc.keys() - lc.keys()):
            diff("extra column", f"{t}.{c}", EVENTS_AFTER_COMMIT if (t, c) == ("events", "pos") else None)
        lite_pk = tuple(c for c, _ in sorted(((c, v["pk"]) for c, v in lc.items() if v["pk"]), key=lambda x: x[1]))
        pg_pk = tuple(c for c, _ in sorted(((c, v["pk"]) for c, v in pc.items() if v["pk"]), key=lambda x: x[1]))
        if lite_pk != pg_pk:
            reason = ("run_counts is append-only on PostgreSQL: a key holds many rows" if t == "run_counts" and lite_pk == RUN_COUNTS_KEY and not pg_pk
                      else EVENTS_AFTER_COMMIT if t == "events" and lite_pk == ("seq",) and pg_pk == ("pos",) else None)
            diff("primary key", f"{t}: SQLite {lite_pk or 'none'}, PostgreSQL {pg_pk or 'none'}", reason)
        for c in sorted(lc.keys() & pc.keys()):
            l, p = lc[c], pc[c]
            if p["type"] not in COMPATIBLE.get(l["type"], set()):
                diff("type", f"{t}.{c}: SQLite {l['type']}, PostgreSQL {p['type']}")
            if l["notnull"] != p["notnull"]:
                if not l["notnull"] and l["pk"] and p["pk"]:
                    pk_not_null.append(f"{t}.{c}")
                else:
                    diff("NOT NULL", f"{t}.{c}: SQLite {l['notnull']}, PostgreSQL {p['notnull']}")
    if pk_not_null:
        diff("NOT NULL only on PostgreSQL", ", ".join(pk_not_null), PK_IMPLIES_NOT_NULL)

    for i in sorted(lite["indexes"].keys() - pg["indexes"].keys()):
        diff("missing index", i)
    for i in sorted(pg["indexes"].keys() - lite["indexes"].keys()):
        idx = pg["indexes"][i]
        keyed = idx["table"] == "run_counts" and tuple(c for c, _ in idx["columns"]) == RUN_COUNTS_KEY and not idx["unique"]
        diff("extra index", f"{i} on {idx['table']}{[c for c, _ in idx['columns']]}",
             "run_counts' reads by key, in place of the primary key it has on SQLite" if keyed
             else EVENTS_AFTER_COMMIT if i in ("ux_events_seq", "ix_events_unsequenced") else None)
    for i in sorted(lite["indexes"].keys() & pg["indexes"].keys()):
        l, p = lite["indexes"][i], pg["indexes"][i]
        for field in ("table", "columns", "unique", "where"):
            if l[field] != p[field]:
                # On PostgreSQL an event has no seq until the sequencer gives it one: indexes read by seq skip those rows.
                reason = EVENTS_AFTER_COMMIT if (i, field) == ("ix_events_run_type", "where") else None
                diff("index", f"{i}.{field}: SQLite {l[field]}, PostgreSQL {p[field]}", reason)

    for u in sorted(lite["uniques"] - pg["uniques"]):
        diff("missing unique", f"{u[0]}{list(u[1])}")
    for u in sorted(pg["uniques"] - lite["uniques"]):
        diff("extra unique", f"{u[0]}{list(u[1])}")
    for f in sorted(lite["fks"] - pg["fks"]):
        diff("missing foreign key", f"{f[0]}.{f[1]} -> {f[2]}.{f[3]} ON DELETE {f[4]}")
    for f in sorted(pg["fks"] - lite["fks"]):
        diff("extra foreign key", f"{f[0]}.{f[1]} -> {f[2]}.{f[3]} ON DELETE {f[4]}")
    for tr in sorted(lite["triggers"] - pg["triggers"]):
        diff("missing trigger", f"{tr[0]} on {tr[1]}", AUDIT_APPEND_ONLY if tr[0] in AUDIT_TRIGGERS else None)
    for tr in sorted(pg["triggers"] - lite["triggers"]):
        diff("extra trigger", f"{tr[0]} on {tr[1]}", AUDIT_APPEND_ONLY if tr[0] in AUDIT_TRIGGERS else None)
    return expected, unexpected


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", required=True, help='libpq connection string, e.g. "host=127.0.0.1 port=5432 user=postgres dbname=x"')
    args = parser.parse_args()
    lite, pg = sqlite_schema(), pg_schema(args.pg)
    expected, unexpected = compare(lite, pg)
    print(f"SQLite migrations: {len(lite['tables'])} tables, {sum(map(len, lite['tables'].values()))} columns, "
          f"{len(lite['indexes'])} indexes, {len(lite['uniques'])} unique constraints, {len(lite['fks'])} foreign keys, "
          f"{len(lite['triggers'])} triggers")
    print(f"PostgreSQL:       {len(pg['tables'])} tables, {sum(map(len, pg['tables'].values()))} columns, "
          f"{len(pg['indexes'])} indexes, {len(pg['uniques'])} unique constraints, {len(pg['fks'])} foreign keys, "
          f"{len(pg['triggers'])} triggers")
    for line in expected:
        print("expected   " + line)
    for line in unexpected:
        print("UNEXPECTED " + line)
    print(f"{len(unexpected)} unexpected difference(s), {len(expected)} expected")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
