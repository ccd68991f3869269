using System.Xml.Linq;
using Baton.Storage;
using Dapper;
using Microsoft.AspNetCore.DataProtection.Repositories;

namespace Baton.Dashboard;

/// <summary>
/// The dashboard's data-protection keys (cookies, form tokens) in the database, for several nodes on PostgreSQL: a
/// sign-in on one api node holds on every other, behind any load balancer. The one owner of
/// <c>data_protection_keys</c>. The framework asks synchronously, and rarely: at the first protect or unprotect, and
/// when a key is made (every 90 days).
/// </summary>
public sealed class DataProtectionKeyStore(Database db, TimeProvider time) : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements() =>
        [.. db.ReadAsync(c => c.QueryAsync<string>("SELECT xml FROM data_protection_keys ORDER BY created_at, name"))
            .GetAwaiter().GetResult()
            .Select(XElement.Parse)];

    /// <summary>Two nodes making a key at once both keep theirs: each has its own name (the key's id).</summary>
    public void StoreElement(XElement element, string friendlyName) =>
        db.WriteAsync((c, tx) => c.ExecuteAsync(
                "INSERT INTO data_protection_keys(name, xml, created_at) VALUES (@friendlyName, @xml, @now) ON CONFLICT(name) DO NOTHING",
                new { friendlyName, xml = element.ToString(SaveOptions.DisableFormatting), now = time.GetUtcNow().ToMs() }, tx))
            .GetAwaiter().GetResult();
}
