using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Baton.Client;
using Baton.Storage;
using Baton.Tests.Dashboard;
using Baton.Tests.Support;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Baton.Tests.Agents;

/// <summary>
/// Issue 9, finding 1: git never runs repository code, local paths are an admin's choice inside BATON_REPO_ROOTS,
/// and credentials in repository URLs are never stored or shown.
/// </summary>
public sealed class RepositorySecurityTests : IDisposable
{
    private readonly HookedRepo _repo = new();
    private readonly BatonFactory _factory;

    public RepositorySecurityTests()
    {
        _factory = new BatonFactory(profiles: new Dictionary<string, string> { ["edit"] = EditProfile });
        _factory.Settings["BATON_REPO_ROOTS"] = _repo.Root;
    }

    private const string EditProfile = """
        name: edit
        phases:
          - name: implementation
            worker: writer
            prompt: "change something"
          - name: review
            produces: [review.md]
        """;

    [Fact]
    public async Task The_hooked_repository_attack_with_an_operator_key_runs_no_hook()
    {
        var operatorClient = await _factory.ClientAsAsync("operator");

        // The attack as reported: an operator registers a local path. Now refused before the path is even looked at.
        var byOperator = await operatorClient.Http.PostAsJsonAsync("/api/repositories", new { name = "hooked", url = _repo.Path });
        Assert.Equal(HttpStatusCode.Forbidden, byOperator.StatusCode);
        Assert.Contains("admin", await byOperator.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // An admin may, inside the allowed root; the run checks out the tree that carries the hooked bare repository.
        var admin = _factory.Client();
        await admin.CreateWorkerAsync(new CreateWorkerRequest("writer", "command", ["sh", "-c", "echo changed >> notes.txt"]));
        var repository = await admin.CreateRepositoryAsync(new CreateRepositoryRequest("hooked", _repo.Path));
        var run = await operatorClient.CreateRunAsync(new CreateRunRequest("edit", "x", RepositoryId: repository.RepositoryId));
        await admin.WaitForStatusAsync(run.RunId, "completed");
        var workspace = Assert.Single((await admin.ListWorkspacesAsync()).Workspaces);
        var nested = Path.Combine(workspace.Path, "evil.git");
        Assert.True(File.Exists(Path.Combine(nested, "hooks", "post-checkout")), "the attack's hooked bare repository is in the workspace");

        // Second step: the hooked bare repository inside the workspace. The operator may not; nobody may, as it is
        // inside the work dir (also through a symbolic link from inside the allowed root).
        var nestedByOperator = await operatorClient.Http.PostAsJsonAsync("/api/repositories", new { name = "nested", url = nested });
        Assert.Equal(HttpStatusCode.Forbidden, nestedByOperator.StatusCode);
        var link = Path.Combine(_repo.Root, "link-to-workspace");
        File.CreateSymbolicLink(link, workspace.Path);
        foreach (var path in new[] { nested, workspace.Path, _factory.WorkDir, _factory.DataDir, Path.Combine(_factory.DataDir, "profiles"), Path.Combine(link, "evil.git") })
        {
            var refused = await admin.Http.PostAsJsonAsync("/api/repositories", new { name = "nested", url = path });
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        }
        Assert.Single((await admin.ListRepositoriesAsync()).Repositories);
        Assert.Empty(_repo.Markers());
    }

    [Fact]
    public async Task A_repositorys_own_hooks_filters_and_fsmonitor_never_run_during_a_whole_run()
    {
        var admin = _factory.Client();
        await admin.CreateWorkerAsync(new CreateWorkerRequest("writer", "command", ["sh", "-c", "echo changed >> notes.txt"]));
        var repository = await admin.CreateRepositoryAsync(new CreateRepositoryRequest("hooked", _repo.Path));
        var run = await admin.CreateRunAsync(new CreateRunRequest("edit", "x", RepositoryId: repository.RepositoryId));
        await admin.WaitForStatusAsync(run.RunId, "completed");

        // The run did its git work: a commit per phase with the agent's change in it.
        var branch = $"baton/{run.RunId}";
        Assert.Equal(["review", "implementation"], _repo.Git("log", "--format=%s", $"main..{branch}").Trim().Split('\n').Select(s => s.Split(' ')[1]));
        Assert.Contains("changed", _repo.Git("show", $"{branch}:notes.txt"), StringComparison.Ordinal);
        var diff = await admin.GetArtifactAsync(run.RunId, "implementation.diff.patch");
        Assert.StartsWith("diff --git a/notes.txt b/notes.txt", diff, StringComparison.Ordinal);

        Assert.Empty(_repo.Markers());
    }

    [Fact]
    public async Task A_filter_declared_after_many_kilobytes_of_config_never_runs_either()
    {
        // Past the 8 KiB a log line is cut at: the listing of config names must still be read whole.
        _repo.DeclareFilterAfterPadding("late", "*.txt", paddingBytes: 32 * 1024);
        var admin = _factory.Client();
        await admin.CreateWorkerAsync(new CreateWorkerRequest("writer", "command", ["sh", "-c", "echo changed >> notes.txt"]));
        var repository = await admin.CreateRepositoryAsync(new CreateRepositoryRequest("hooked", _repo.Path));
        var run = await admin.CreateRunAsync(new CreateRunRequest("edit", "x", RepositoryId: repository.RepositoryId));
        await admin.WaitForStatusAsync(run.RunId, "completed");

        Assert.Contains("changed", _repo.Git("show", $"baton/{run.RunId}:notes.txt"), StringComparison.Ordinal);
        Assert.Empty(_repo.Markers());
    }

    [Fact]
    public async Task A_long_line_stays_whole_in_the_stored_diff()
    {
        var admin = _factory.Client();
        await admin.CreateWorkerAsync(new CreateWorkerRequest("writer", "command", ["sh", "-c", "head -c 20000 /dev/zero | tr '\\0' a > long.txt"]));
        var repository = await admin.CreateRepositoryAsync(new CreateRepositoryRequest("hooked", _repo.Path));
        var run = await admin.CreateRunAsync(new CreateRunRequest("edit", "x", RepositoryId: repository.RepositoryId));
        await admin.WaitForStatusAsync(run.RunId, "completed");

        var diff = await admin.GetArtifactAsync(run.RunId, "implementation.diff.patch");
        Assert.Contains("+" + new string('a', 20000) + "\n", diff, StringComparison.Ordinal);
    }

    [Fact]
    public async Task File_and_ext_urls_are_refused_and_paths_outside_the_roots_get_one_answer_whether_they_exist_or_not()
    {
        var admin = _factory.Client();
        foreach (var url in new[] { "file://" + _repo.Path, "FILE:///etc", "ext::sh -c touch% /tmp/pwned", "fd::3", "foo://example.com/x.git" })
        {
            var refused = await admin.Http.PostAsJsonAsync("/api/repositories", new { name = "x", url });
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        }

        var existing = await UrlErrorAsync(admin, "/etc");
        var missing = await UrlErrorAsync(admin, "/no-such-folder-" + Guid.NewGuid().ToString("N"));
        var outsideRepo = await UrlErrorAsync(admin, Path.GetDirectoryName(_repo.Root)!);
        Assert.Equal(existing, missing);
        Assert.Equal(existing, outsideRepo);
        Assert.Contains("BATON_REPO_ROOTS", existing, StringComparison.Ordinal);
        Assert.Empty((await admin.ListRepositoriesAsync()).Repositories);
    }

    [Fact]
    public async Task Credentials_in_urls_are_refused_never_echoed_and_redacted_for_everyone()
    {
        var admin = _factory.Client();
        var posted = await admin.Http.PostAsJsonAsync("/api/repositories", new { name = "api", url = "https://alice:s3cret-token@example.com/acme/api.git" });
        Assert.Equal(HttpStatusCode.BadRequest, posted.StatusCode);
        var problem = await posted.Content.ReadAsStringAsync();
        Assert.DoesNotContain("s3cret", problem, StringComparison.Ordinal);
        Assert.Contains("credential_env", problem, StringComparison.Ordinal);

        // A row written with credentials (by an older Baton) is shown without them, to viewers and admins alike.
        await _factory.Service<Database>().WriteAsync((c, tx) => c.ExecuteAsync(
            """
            INSERT INTO repositories(id, name, url, default_branch, created_at)
            VALUES ('rep_old', 'old', 'https://alice:s3cret-token@example.com/acme/api.git', 'main', 0);
            INSERT INTO workspaces(id, repository_id, owner_id, path, branch, base_commit, status, created_at)
            VALUES ('wsp_old', 'rep_old', 'run_old', '/nowhere', 'baton/run_old', 'abc', 'active', 0);
            """, transaction: tx));
        foreach (var role in new[] { "viewer", "admin" })
        {
            var client = role == "admin" ? admin : await _factory.ClientAsAsync(role);
            var list = await client.Http.GetStringAsync("/api/repositories");
            var one = await client.Http.GetStringAsync("/api/repositories/rep_old");
            Assert.DoesNotContain("s3cret", list + one, StringComparison.Ordinal);
            Assert.DoesNotContain("alice", list + one, StringComparison.Ordinal);
            Assert.Contains("https://example.com/acme/api.git", one, StringComparison.Ordinal);
        }
        using var browser = await Browser.SignedInAsync(_factory, "viewer");
        var page = await browser.GetAsync("/workspaces");
        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.Contains("example.com/acme/api.git", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", page.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_credential_is_a_server_variable_only_an_admin_attaches()
    {
        var operatorClient = await _factory.ClientAsAsync("operator");
        var byOperator = await operatorClient.Http.PostAsJsonAsync("/api/repositories",
            new { name = "api", url = "https://example.com/acme/api.git", credential_env = "ACME_GIT_TOKEN" });
        Assert.Equal(HttpStatusCode.Forbidden, byOperator.StatusCode);

        var admin = _factory.Client();
        var bad = await admin.Http.PostAsJsonAsync("/api/repositories", new { name = "api", url = "https://example.com/acme/api.git", credential_env = "user:token" });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.DoesNotContain("user:token", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var created = await admin.Http.PostAsJsonAsync("/api/repositories", new { name = "api", url = "https://example.com/acme/api.git", credential_env = "ACME_GIT_TOKEN" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = await created.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("ACME_GIT_TOKEN", body.GetProperty("credential_env").GetString());
        Assert.Equal("https://example.com/acme/api.git", body.GetProperty("url").GetString());
    }

    [Fact]
    public async Task The_migration_strips_credentials_from_stored_urls()
    {
        // About SQLite files an older Baton wrote: a new PostgreSQL database starts at the schema after this migration.
        var first = new BatonFactory { KeepDataDir = true, Sqlite = true };
        await first.Client().ListRepositoriesAsync();
        await using (var db = new SqliteConnection($"Data Source={first.DatabasePath}"))
        {
            await db.OpenAsync();
            using var insert = db.CreateCommand();
            // As an older Baton left them; the migration then runs again on the next start.
            insert.CommandText = """
                INSERT INTO repositories(id, name, url, default_branch, created_at) VALUES
                  ('rep_a', 'a', 'https://alice:s3cret@example.com/acme/a.git', 'main', 0),
                  ('rep_b', 'b', 'http://tok@en:s3cret@example.com:8080/b.git', 'main', 0),
                  ('rep_c', 'c', 'ssh://git@example.com/acme/c.git', 'main', 0),
                  ('rep_d', 'd', 'https://example.com/acme/d@2.git', 'main', 0);
                DELETE FROM schema_migrations WHERE version LIKE '0006_%';
                """;
            await insert.ExecuteNonQueryAsync();
        }
        await first.DisposeAsync();
        using var again = new BatonFactory(dataDir: first.DataDir) { Sqlite = true };
        var urls = (await again.Client().ListRepositoriesAsync()).Repositories.ToDictionary(r => r.RepositoryId, r => r.Url);
        Assert.Equal("https://example.com/acme/a.git", urls["rep_a"]);
        Assert.Equal("http://example.com:8080/b.git", urls["rep_b"]);
        Assert.Equal("ssh://git@example.com/acme/c.git", urls["rep_c"]);
        Assert.Equal("https://example.com/acme/d@2.git", urls["rep_d"]);
        await using var check = new SqliteConnection($"Data Source={again.DatabasePath}");
        await check.OpenAsync();
        using var count = check.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM repositories WHERE url LIKE '%s3cret%'";
        Assert.Equal(0L, (long)(await count.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task An_operator_runs_twice_on_a_git_url_through_a_clone_whose_config_baton_resets()
    {
        // A real git server (git daemon, git:// protocol) on this machine, serving a bare copy of the hooked repository
        // (Baton pushes each phase's commit there, which runs the server's hooks: those are the server's, not Baton's).
        var served = Path.Combine(_repo.Root, "served");
        _repo.Git("clone", "--quiet", "--bare", "--template=", _repo.Path, Path.Combine(served, "repo.git"));
        await using var daemon = await GitDaemon.StartAsync(served);
        var url = daemon.UrlOf("repo.git");
        var admin = _factory.Client();
        await admin.CreateWorkerAsync(new CreateWorkerRequest("writer", "command", ["sh", "-c", "echo changed >> notes.txt"]));
        var operatorClient = await _factory.ClientAsAsync("operator");
        var repository = await operatorClient.CreateRepositoryAsync(new CreateRepositoryRequest("remote", url));
        var first = await operatorClient.CreateRunAsync(new CreateRunRequest("edit", "x", RepositoryId: repository.RepositoryId));
        await admin.WaitForStatusAsync(first.RunId, "completed");

        // What an agent could leave in the clone's shared config is gone before the next fetch.
        var clone = Path.Combine(_factory.WorkDir, "repos", repository.RepositoryId + ".git");
        File.AppendAllText(Path.Combine(clone, "config"), $"[core]\n\tfsmonitor = {Path.Combine(_repo.Root, "program.sh")}\n");
        var second = await operatorClient.CreateRunAsync(new CreateRunRequest("edit", "y", RepositoryId: repository.RepositoryId));
        await admin.WaitForStatusAsync(second.RunId, "completed");
        Assert.DoesNotContain("fsmonitor", File.ReadAllText(Path.Combine(clone, "config")), StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(clone, "hooks")));
        Assert.Empty(_repo.Markers());
    }

    [Fact]
    public async Task The_credential_reaches_its_host_as_a_header_from_the_servers_environment_and_nowhere_else()
    {
        // An HTTP server that records what git sends, and has no repository (git then fails, which is fine here).
        var port = FreePort();
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        var seen = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Task.Run(async () =>
        {
            while (listener.IsListening)
            {
                var context = await listener.GetContextAsync();
                seen.TrySetResult(context.Request.Headers["Authorization"]);
                context.Response.StatusCode = 404;
                context.Response.Close();
            }
        });
        var variable = "BATON_TEST_GIT_TOKEN_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        variable = "T" + variable[5..];
        Environment.SetEnvironmentVariable(variable, "alice:tok-123");
        try
        {
            var admin = _factory.Client();
            await admin.CreateWorkerAsync(new CreateWorkerRequest("writer", "command", ["sh", "-c", "echo changed >> notes.txt"]));
            var repository = await admin.CreateRepositoryAsync(new CreateRepositoryRequest("private", $"http://127.0.0.1:{port}/acme/private.git", CredentialEnv: variable));
            Assert.Equal(variable, repository.CredentialEnv);
            var run = await admin.CreateRunAsync(new CreateRunRequest("edit", "x", RepositoryId: repository.RepositoryId));
            Assert.Equal("Basic " + Convert.ToBase64String("alice:tok-123"u8.ToArray()), await seen.Task.WaitAsync(TimeSpan.FromSeconds(30)));

            // The clone failed (and is retried); nothing the run recorded holds the token.
            var events = JsonSerializer.Serialize(await admin.EventsUntilAsync(run.RunId, "phase.retry_scheduled"));
            await admin.CancelAsync(run.RunId);
            Assert.Contains("git clone failed", events, StringComparison.Ordinal);
            Assert.DoesNotContain("tok-123", events, StringComparison.Ordinal);
            Assert.DoesNotContain("YWxpY2U6dG9rLTEyMw", events, StringComparison.Ordinal);
            Assert.DoesNotContain("tok-123", await admin.Http.GetStringAsync($"/api/repositories/{repository.RepositoryId}"), StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
            listener.Stop();
        }
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public void Real_paths_resolve_links_as_the_kernel_does_and_redaction_keeps_only_an_ssh_user()
    {
        var deep = Directory.CreateDirectory(Path.Combine(_repo.Root, "a", "deep")).FullName;
        var link = Path.Combine(_repo.Root, "to-deep");
        File.CreateSymbolicLink(link, deep);
        Assert.Equal(deep, Workspaces.RepositoryLocations.RealPath(link));
        // "link/.." is the link target's parent, not the link's folder: a lexical check would be fooled.
        Assert.Equal(Path.Combine(_repo.Root, "a"), Workspaces.RepositoryLocations.RealPath(Path.Combine(link, "..")));
        Assert.Equal(Path.Combine(deep, "missing"), Workspaces.RepositoryLocations.RealPath(Path.Combine(link, ".", "missing")));

        Assert.Equal("https://example.com/a.git", Workspaces.RepositoryLocations.Redact("https://TOKEN@example.com/a.git"));
        Assert.Equal("ssh://git@example.com/a.git", Workspaces.RepositoryLocations.Redact("ssh://git@example.com/a.git"));
        Assert.Equal("ssh://example.com/a.git", Workspaces.RepositoryLocations.Redact("ssh://git:pw@example.com/a.git"));
        Assert.Equal("git@github.com:acme/a.git", Workspaces.RepositoryLocations.Redact("git@github.com:acme/a.git"));
    }

    private static async Task<string> UrlErrorAsync(BatonClient client, string url)
    {
        var response = await client.Http.PostAsJsonAsync("/api/repositories", new { name = "x", url });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return body.GetProperty("errors").GetProperty("url")[0].GetString()!;
    }

    public void Dispose()
    {
        _factory.Dispose();
        _repo.Dispose();
    }
}

/// <summary>
/// A repository that runs code if git lets it: its own hooks, an fsmonitor and a filter driver in .git/config, and in
/// its tree a folder laid out as a bare repository whose post-checkout hook also leaves a marker.
/// </summary>
public sealed class HookedRepo : IDisposable
{
    private static readonly string[] HookNames = ["post-checkout", "post-commit", "pre-commit", "reference-transaction", "post-index-change", "pre-auto-gc"];

    public HookedRepo()
    {
        Root = Directory.CreateTempSubdirectory("baton-hooked-").FullName;
        Path = System.IO.Path.Combine(Root, "repo");
        MarkerDir = System.IO.Path.Combine(Root, "markers");
        Directory.CreateDirectory(Path);
        Directory.CreateDirectory(MarkerDir);
        File.WriteAllText(System.IO.Path.Combine(Path, "readme.md"), "hello\n");
        File.WriteAllText(System.IO.Path.Combine(Path, ".gitattributes"), "*.md filter=evil diff=evil\n");
        Git("init", "--quiet", "--initial-branch=main");

        // The nested bare repository (with one commit on main, so a worktree can be made from it) and its hook.
        var nested = System.IO.Path.Combine(Path, "evil.git");
        Git("init", "--quiet", "--bare", "--initial-branch=main", nested);
        Git("-c", "user.name=Test", "-c", "user.email=test@localhost", "commit", "--quiet", "--allow-empty", "-m", "seed");
        Git("push", "--quiet", nested, "main:main");
        Directory.Delete(System.IO.Path.Combine(nested, "hooks"), recursive: true);
        Marker(System.IO.Path.Combine(nested, "hooks", "post-checkout"), "nested-post-checkout");

        Git("add", "-A");
        Git("-c", "user.name=Test", "-c", "user.email=test@localhost", "commit", "--quiet", "-m", "initial");

        // Now the outer repository's own hooks and program-running configuration.
        foreach (var hook in HookNames)
        {
            Marker(System.IO.Path.Combine(Path, ".git", "hooks", hook), hook);
        }
        var program = Marker(System.IO.Path.Combine(Root, "program.sh"), "config-program");
        Git("config", "core.fsmonitor", program);
        Git("config", "filter.evil.clean", program);
        Git("config", "filter.evil.smudge", program);
        Git("config", "diff.evil.command", program);
        Git("config", "core.sshCommand", program);
        Git("config", "credential.helper", "!" + program);
    }

    public string Root { get; }

    public string Path { get; }

    public string MarkerDir { get; }

    /// <summary>Many kilobytes of harmless config, then a filter driver for <paramref name="pattern"/> (in .git/info/attributes).</summary>
    public void DeclareFilterAfterPadding(string name, string pattern, int paddingBytes)
    {
        var config = System.IO.Path.Combine(Path, ".git", "config");
        var padding = new System.Text.StringBuilder();
        for (var i = 0; padding.Length < paddingBytes; i++)
        {
            padding.Append(System.Globalization.CultureInfo.InvariantCulture, $"[pad \"{new string('p', 200)}{i}\"]\n\tx = 1\n");
        }
        File.AppendAllText(config, padding.ToString());
        Git("config", $"filter.{name}.clean", Marker(System.IO.Path.Combine(Root, name + ".sh"), name));
        Directory.CreateDirectory(System.IO.Path.Combine(Path, ".git", "info"));
        File.AppendAllText(System.IO.Path.Combine(Path, ".git", "info", "attributes"), $"{pattern} filter={name}\n");
    }

    /// <summary>The markers left by whatever ran; empty when git ran nothing of the repository's.</summary>
    public string[] Markers() => Directory.GetFiles(MarkerDir).Select(System.IO.Path.GetFileName).ToArray()!;

    /// <summary>The test's own git, which must not run the hooks either (it reads the branch the run made).</summary>
    public string Git(params string[] args) => TestGit.Run(Path, ["-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", .. args]);

    private string Marker(string path, string name)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        File.WriteAllText(path, $"#!/bin/sh\ntouch '{System.IO.Path.Combine(MarkerDir, name)}'\ncat\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
