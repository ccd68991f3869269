using Baton.Storage;
using Dapper;

namespace Baton.Tests.Support;

/// <summary>
/// A database error on demand, as a broken disk or a bad deploy would give: a trigger that aborts the statements
/// that match, on SQLite (RAISE in the trigger) or PostgreSQL (a plpgsql function), until it is healed.
/// </summary>
public sealed class InjectedFailure(Database db, string name, string table)
{
    /// <summary>Makes <paramref name="statement"/> (e.g. "INSERT", "UPDATE OF lease_expires_at") on <paramref name="table"/> fail where <paramref name="when"/> holds (NEW./OLD. columns).</summary>
    public static async Task<InjectedFailure> StartAsync(Database db, string name, string statement, string table, string when)
    {
        var sql = db.Dialect.SingleWriter
            ? $"CREATE TRIGGER {name} BEFORE {statement} ON {table} WHEN {when} BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
            : $"""
              CREATE FUNCTION {name}_fails() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
              CREATE TRIGGER {name} BEFORE {statement} ON {table} FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION {name}_fails();
              """;
        await db.WriteAsync((c, tx) => c.ExecuteAsync(sql, transaction: tx));
        return new InjectedFailure(db, name, table);
    }

    public Task HealAsync() => db.WriteAsync((c, tx) => c.ExecuteAsync(
        db.Dialect.SingleWriter ? $"DROP TRIGGER {name}" : $"DROP TRIGGER {name} ON {table}; DROP FUNCTION {name}_fails();", transaction: tx));
}
