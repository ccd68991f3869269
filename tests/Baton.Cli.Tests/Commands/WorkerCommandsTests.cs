using System.Text.Json;
using Baton.Cli.Tests.Support;
using Baton.Client;

namespace Baton.Cli.Tests.Commands;

/// <summary>`baton worker list|show|create|delete` against a real server: YAML files as the server reads them, and the admin role.</summary>
[Collection(SharedServerCollection.Name)]
public sealed class WorkerCommandsTests(SharedServer shared) : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private Task<BatonResult> Baton(params string[] args) => shared.BatonAsync(args);

    /// <summary>Names are unique per test: the server is shared, and worker names are unique on it.</summary>
    private static string NewName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..24];

    private string WriteFile(string name, string text)
    {
        var path = Path.Combine(_dir.Path, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static string WorkerYaml(string name) => $$$"""
        # A worker as in docs/workers/*.yaml
        name: {{{name}}}
        kind: command
        argv: [/bin/echo, "{{prompt}}"]
        env:
          GREETING: hello
        secret_env:
          API_KEY: SOME_SERVER_VARIABLE
        timeout: 5m
        concurrency: 2
        """;

    [Fact]
    public async Task Create_from_a_yaml_file_or_stdin_then_list_show_and_delete()
    {
        var name = NewName("cli-file");
        var created = (await Baton("worker", "create", "--file", WriteFile("worker.yaml", WorkerYaml(name)))).Succeeds().Stdout;
        Assert.Matches($"^Created worker wkr_[0-9a-z]+ '{name}' \\(command\\): /bin/echo '\\{{\\{{prompt}}}}'\n", created);

        var list = JsonSerializer.Deserialize<WorkerList>((await Baton("worker", "list", "--json")).Succeeds().Stdout, BatonJson.Options)!;
        var worker = Assert.Single(list.Workers, w => w.Name == name);
        Assert.Matches($"{worker.WorkerId} +{name} +command +2 +[0-9-]+ [0-9:]+ +/bin/echo", (await Baton("worker", "list")).Succeeds().Stdout);

        var json = JsonDocument.Parse((await Baton("worker", "show", name, "--json")).Succeeds().Stdout).RootElement;
        Assert.Equal(worker.WorkerId, json.GetProperty("worker_id").GetString());
        Assert.Equal(["/bin/echo", "{{prompt}}"], json.GetProperty("argv").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal("hello", json.GetProperty("env").GetProperty("GREETING").GetString());
        Assert.Equal("SOME_SERVER_VARIABLE", json.GetProperty("secret_env").GetProperty("API_KEY").GetString());
        Assert.Equal(("5m", 2), (json.GetProperty("timeout").GetString(), json.GetProperty("concurrency").GetInt32()));
        var text = (await Baton("worker", "show", worker.WorkerId)).Succeeds().Stdout;
        Assert.Contains("Secret env:  API_KEY from $SOME_SERVER_VARIABLE", text, StringComparison.Ordinal);

        var piped = NewName("cli-stdin");
        (await BatonProcess.RunWithInputAsync(shared.Folder, shared.Env, WorkerYaml(piped), "worker", "create", "--file", "-")).Succeeds();
        Assert.Equal($"Deleted worker {piped}.\n", (await Baton("worker", "delete", piped)).Succeeds().Stdout);
        Assert.Contains($"no worker '{piped}'", (await Baton("worker", "show", piped)).FailsWithOneLine(ExitCodes.NotFound), StringComparison.Ordinal);
        (await Baton("worker", "delete", piped)).FailsWithOneLine(ExitCodes.NotFound);
    }

    [Fact]
    public async Task A_bad_file_is_a_usage_error_a_missing_one_not_found_and_a_non_admin_key_not_allowed()
    {
        var broken = (await Baton("worker", "create", "--file", WriteFile("broken.yaml", "name: x\nkind: command\nargv: [unclosed\n"))).FailsWithOneLine(ExitCodes.Usage);
        Assert.StartsWith($"error: {Path.Combine(_dir.Path, "broken.yaml")}: line ", broken, StringComparison.Ordinal);
        var unknown = (await Baton("worker", "create", "--file", WriteFile("typo.yaml", "nmae: x\nkind: command\n"))).FailsWithOneLine(ExitCodes.Usage);
        Assert.Contains("nmae", unknown, StringComparison.Ordinal);
        // Read fine, refused by the server's checks: the same exit code, the server's reason.
        var incomplete = (await Baton("worker", "create", "--file", WriteFile("no-argv.yaml", $"name: {NewName("cli-bad")}\nkind: command\n"))).FailsWithOneLine(ExitCodes.Usage);
        Assert.Contains("argv is required", incomplete, StringComparison.Ordinal);
        (await Baton("worker", "create", "--file", Path.Combine(_dir.Path, "missing.yaml"))).FailsWithOneLine(ExitCodes.NotFound);

        var key = await shared.Admin.CreateKeyAsync(new CreateKeyRequest(NewName("cli-op"), "operator"));
        var operatorEnv = new Dictionary<string, string>(shared.Env) { ["BATON_TOKEN"] = key.Token };
        var refused = (await shared.BatonAsync(operatorEnv, "worker", "create", "--file", WriteFile("ok.yaml", WorkerYaml(NewName("cli-op"))))).FailsWithOneLine(ExitCodes.Auth);
        Assert.StartsWith("error: Forbidden (403)", refused, StringComparison.Ordinal);
        (await shared.BatonAsync(operatorEnv, "worker", "list")).Succeeds();
    }
}
