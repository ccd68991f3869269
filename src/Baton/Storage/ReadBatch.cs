namespace Baton.Storage;

/// <summary>
/// Several reads sent as one command (Dapper's QueryMultiple): one round trip on PostgreSQL. Each store keeps its own
/// statement; the reader lists those it needs (null: not this time) and reads their results in the same order.
/// </summary>
public static class ReadBatch
{
    public static string Of(params string?[] statements) => string.Join(";\n", statements.OfType<string>());
}
