using System.Data;
using System.Text.RegularExpressions;
using Dapper;
using Npgsql;
using NpgsqlTypes;

namespace Baton.Storage;

/// <summary>
/// A parameter that holds JSON text: a TEXT column on SQLite, <c>jsonb</c> on PostgreSQL. Npgsql sends a string as
/// <c>text</c>, which PostgreSQL will not assign to a jsonb column, so the parameter says what it is; a cast in the
/// SQL instead would give the column NUMERIC affinity on SQLite.
/// </summary>
public sealed partial class JsonParameter(string? json) : SqlMapper.ICustomQueryParameter
{
    public void AddParameter(IDbCommand command, string name)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        if (parameter is NpgsqlParameter npgsql)
        {
            npgsql.NpgsqlDbType = NpgsqlDbType.Jsonb;
            npgsql.Value = (object?)ForPostgres(json) ?? DBNull.Value;
        }
        else
        {
            parameter.DbType = DbType.String;
            parameter.Value = (object?)json ?? DBNull.Value;
        }
        command.Parameters.Add(parameter);
    }

    /// <summary>JSON text as jsonb takes it, for a statement that binds it another way (an array of them).</summary>
    public static string? ForPostgres(string? json) => json is null ? null : WithoutNul(json);

    /// <summary>
    /// jsonb refuses the escaped NUL character (<c>\u0000</c>), which an agent's output may hold: it becomes U+FFFD,
    /// as an undecodable byte does, rather than failing the whole transaction. An escaped backslash before "u0000"
    /// (an even run of backslashes) is text, not a NUL, and stays.
    /// </summary>
    private static string WithoutNul(string json) => json.Contains(@"\u0000", StringComparison.Ordinal)
        ? EscapedNul().Replace(json, m => m.Value[..^6] + @"\ufffd")
        : json;

    [GeneratedRegex(@"(?<!\\)(?:\\\\)*\\u0000")]
    private static partial Regex EscapedNul();
}
