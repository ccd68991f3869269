using System.Diagnostics;
using Baton.Agents;
using Baton.Ops;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace Baton.Tests.Ops;

/// <summary>The redactor itself (ADR 40), and the wrappers that apply it to spans and Baton's own logs.</summary>
public sealed class RedactorTests
{
    private const string Mask = Redactor.Mask;

    [Fact]
    public void Every_known_value_is_masked_the_longest_where_two_start_together_and_short_values_are_refused()
    {
        var redactor = new Redactor();
        var secrets = Enumerable.Range(0, 500).Select(i => $"secret-{i:D4}-{Guid.NewGuid():N}").ToList();
        Assert.All(secrets, s => Assert.True(redactor.Add(s)));
        Assert.True(redactor.Add("prefix-12"));
        Assert.True(redactor.Add("prefix-123456"));
        Assert.False(redactor.Add("short"));
        Assert.False(redactor.Add("  seven  "));
        Assert.False(redactor.Add(null));

        Assert.Equal($"a {Mask} b {Mask}{Mask} c", redactor.Redact($"a {secrets[7]} b {secrets[499]}{secrets[0]} c"));
        Assert.Equal($"x{Mask}y", redactor.Redact("xprefix-123456y"));
        Assert.Equal($"x{Mask}3y", redactor.Redact("xprefix-123y"));
        Assert.Equal("short and seven stay", redactor.Redact("short and seven stay"));
        Assert.Equal("nothing here", redactor.Redact("nothing here"));
        Assert.Null(redactor.Redact(null));
    }

    [Fact]
    public void A_value_is_also_found_as_json_spells_it_and_with_the_whitespace_around_it_read_from_a_file()
    {
        var redactor = new Redactor();
        const string secret = "pa\"ss<word>+1";
        redactor.Add(secret + "\n");
        var json = System.Text.Json.JsonSerializer.Serialize(new { message = $"the key is {secret}" });
        Assert.Equal($"{{\"message\":\"the key is {Mask}\"}}", redactor.Redact(json));
        Assert.Equal($"is {Mask}.", redactor.Redact($"is {secret}."));
    }

    [Fact]
    public void Api_and_execution_keys_are_masked_by_their_shape_keeping_the_prefix()
    {
        var redactor = new Redactor();
        var key = Baton.Auth.ApiKeys.NewToken();
        var execution = "bex_" + new string('Q', 120);
        Assert.Equal($"use bat_{Mask} or bex_{Mask}.", redactor.Redact($"use {key} or {execution}."));
        // Not a key: too short, or a word that ends in "bat_".
        Assert.Equal("bat_short combat_" + new string('a', 50), redactor.Redact("bat_short combat_" + new string('a', 50)));
    }

    [Fact]
    public void A_line_cut_through_a_secret_loses_the_part_it_kept()
    {
        var redactor = new Redactor();
        redactor.Add("abcdefgh-secret");
        Assert.Equal($"text {Mask}", redactor.RedactCut("text abcdefg"));
        Assert.Equal($"text {Mask} and {Mask}", redactor.RedactCut("text abcdefgh-secret and abc"));
        Assert.Equal("text xyz", redactor.RedactCut("text xyz"));
    }

    [Fact]
    public async Task A_streamed_line_longer_than_a_piece_never_shows_a_secret_cut_in_two()
    {
        var redactor = new Redactor();
        const string secret = "streamed-secret-0123456789";
        redactor.Add(secret);
        foreach (var offset in new[] { 3990, 3995, 4000 - secret.Length, 3999, 4000, 7990 })
        {
            var emitted = new List<string>();
            var lines = new LineSplitter(l => { emitted.Add(l); return Task.CompletedTask; }, redactor);
            var text = new string('x', offset) + secret + new string('y', 5000) + "\n";
            // In chunks of 7 characters, as a model streams them.
            for (var i = 0; i < text.Length; i += 7)
            {
                await lines.PushAsync(text.Substring(i, Math.Min(7, text.Length - i)));
            }
            await lines.FlushAsync();
            Assert.All(emitted, l => Assert.DoesNotContain("streamed-", l, StringComparison.Ordinal));
            Assert.All(emitted, l => Assert.DoesNotContain("0123456789", l, StringComparison.Ordinal));
            Assert.Equal(new string('x', offset) + Mask + new string('y', 5000), string.Concat(emitted));
        }
    }

    [Fact]
    public void A_span_ends_with_its_attributes_status_and_name_redacted()
    {
        var redactor = new Redactor();
        const string secret = "span-secret-0123456789";
        redactor.Add(secret);
        using var activity = new Activity($"call {secret}").Start();
        activity.SetTag("plain", "nothing").SetTag("leak", $"has {secret}").SetTag("count", 3);
        activity.SetStatus(ActivityStatusCode.Error, $"failed with {secret}");
        activity.Stop();

        new RedactingSpanProcessor(redactor).OnEnd(activity);

        Assert.Equal(("nothing", $"has {Mask}", 3), (activity.GetTagItem("plain"), activity.GetTagItem("leak"), activity.GetTagItem("count")));
        Assert.Equal((ActivityStatusCode.Error, $"failed with {Mask}"), (activity.Status, activity.StatusDescription));
        Assert.Equal($"call {Mask}", activity.DisplayName);
    }

    [Theory]
    [InlineData("json")]
    [InlineData("simple")]
    public void Batons_own_logs_are_written_by_the_standard_format_and_redacted(string format)
    {
        var secret = "log-secret-" + Guid.NewGuid().ToString("N");
        Redactor.Process.Add(secret);
        var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder()
                .AddInMemoryCollection(new Dictionary<string, string?> { [Logs.FormatSetting] = format }).Build())
            .AddLogging(b => b.AddConsole())
            .AddBatonLogFormat()
            .BuildServiceProvider();
        var name = services.GetRequiredService<Microsoft.Extensions.Options.IOptionsMonitor<ConsoleLoggerOptions>>().CurrentValue.FormatterName;
        Assert.Equal(RedactingConsoleFormatter.Prefix + format, name);
        var formatter = services.GetServices<ConsoleFormatter>().Single(f => f.Name == name);

        var state = new List<KeyValuePair<string, object?>> { new("Token", secret), new("{OriginalFormat}", "token {Token}") };
        var entry = new LogEntry<List<KeyValuePair<string, object?>>>(LogLevel.Warning, "Test", 0, state,
            new InvalidOperationException($"bad {secret}"), (s, _) => $"token {secret}");
        using var output = new StringWriter();
        formatter.Write(in entry, null, output);

        Assert.DoesNotContain(secret, output.ToString(), StringComparison.Ordinal);
        Assert.Contains($"token {Mask}", output.ToString(), StringComparison.Ordinal);
        Assert.Contains($"bad {Mask}", output.ToString(), StringComparison.Ordinal);
        if (format == "json")
        {
            Assert.Equal(System.Text.Json.JsonValueKind.Object, System.Text.Json.JsonDocument.Parse(output.ToString()).RootElement.ValueKind);
        }
    }
}
