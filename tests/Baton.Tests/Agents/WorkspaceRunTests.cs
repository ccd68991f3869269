using Baton.Client;
using Baton.Tests.Dashboard;
using Baton.Tests.Support;

namespace Baton.Tests.Agents;

public sealed class WorkspaceRunTests : IDisposable
{
    private readonly SampleRepo _repo = new();
    private readonly BatonFactory _factory = new();

    [Fact]
    public async Task Software_delivery_with_a_command_implementer_commits_each_phase_and_runs_the_real_tests()
    {
        var client = _factory.Client();
        await client.CreateWorkerAsync(new CreateWorkerRequest("implementer", "command", [_repo.ScriptPath("implement.sh"), "{{prompt_file}}"]));
        File.WriteAllText(Path.Combine(_factory.DataDir, "profiles", "software_delivery.yaml"), SampleRepo.DeliveryProfile("implementer"));
        var repo = await client.CreateRepositoryAsync(new CreateRepositoryRequest("textutil", _repo.Path));

        var run = await client.CreateRunAsync(new CreateRunRequest("software_delivery", "slugify turns text into a URL slug", "textutil", RepositoryId: repo.RepositoryId));
        await client.WaitForGateAsync(run.RunId, "design", 1);
        await client.ApproveAsync(run.RunId);
        var done = await client.WaitForStatusAsync(run.RunId, "completed");
        Assert.Equal(1, done.Iteration);

        // One commit per phase on baton/<run_id>, on top of the repository's main branch.
        var branch = $"baton/{run.RunId}";
        var subjects = _repo.Git("log", "--format=%s", $"main..{branch}").Trim().Split('\n');
        Assert.Equal(["document", "test", "implementation", "design", "discovery"], subjects.Select(s => s.Split(' ')[1]));
        Assert.Contains("return \"-\".join", _repo.Git("show", $"{branch}:textutil.py"), StringComparison.Ordinal);

        // The implementation's diff is an artifact; files changed and the real test results are metrics.
        var diff = await client.GetArtifactAsync(run.RunId, "implementation.diff.patch");
        Assert.Contains("diff --git a/textutil.py b/textutil.py", diff, StringComparison.Ordinal);
        Assert.Contains("+    return \"-\".join(text.lower().split())", diff, StringComparison.Ordinal);
        var metrics = await client.GetMetricsAsync(run.RunId);
        var test = metrics.Phases.Single(p => p.Phase == "test");
        Assert.Equal((2, 2), (test.TestsRun, test.TestsPassed));
        Assert.Equal((2, 2), (metrics.TestsRun, metrics.TestsPassed));
        Assert.Equal(0.0125m, metrics.CostUsd);
        Assert.Equal(1500, metrics.TokensIn + metrics.TokensOut);
        Assert.Equal(4, metrics.ToolCalls);
        var logs = (await client.GetLogsAsync(run.RunId, 200)).Lines.Select(l => l.Message).ToList();
        Assert.Contains(logs, l => l.Contains("check exited with code 0 (2/2 tests passed)", StringComparison.Ordinal));
        Assert.Contains(logs, l => l.StartsWith("implementing slugify in ", StringComparison.Ordinal));

        // The agent's prompt came from the profile, with the intake in it; the user's checkout is untouched.
        Assert.DoesNotContain("join", File.ReadAllText(Path.Combine(_repo.Path, "textutil.py")), StringComparison.Ordinal);
        var workspace = Assert.Single((await client.ListWorkspacesAsync()).Workspaces);
        Assert.Equal((run.RunId, branch), (workspace.OwnerId, workspace.Branch));
    }

    [Fact]
    public async Task Failing_tests_send_the_run_back_to_implementation_with_the_failure_as_feedback()
    {
        var client = _factory.Client();
        // An implementer that changes nothing: the real test of slugify keeps failing.
        await client.CreateWorkerAsync(new CreateWorkerRequest("lazy", "command", [_repo.ScriptPath("env.sh")]));
        File.WriteAllText(Path.Combine(_factory.DataDir, "profiles", "software_delivery.yaml"),
            SampleRepo.DeliveryProfile("lazy", gate: false));
        var repo = await client.CreateRepositoryAsync(new CreateRepositoryRequest("textutil", _repo.Path));
        var run = await client.CreateRunAsync(new CreateRunRequest("software_delivery", "x", RepositoryId: repo.RepositoryId));
        var failed = await client.WaitForStatusAsync(run.RunId, "failed");
        Assert.Contains("max_iterations (3)", failed.Error, StringComparison.Ordinal);
        var tests = failed.Phases.Where(p => p.Name == "test").ToList();
        Assert.Equal(3, tests.Count);
        Assert.All(tests, t => Assert.Contains("exited with code 1 (1/2 tests passed)", t.Error, StringComparison.Ordinal));
        Assert.Contains("(1/2 tests passed)", failed.Phases.Single(p => p is { Name: "implementation", Iteration: 2 }).Feedback, StringComparison.Ordinal);

        // The dashboard's workspaces list knows the owner is a run (the runs table says so) and links the run's page.
        using var browser = await Browser.SignedInAsync(_factory, "viewer");
        var page = await browser.GetAsync("/workspaces");
        Assert.Contains($"href=\"/runs/{run.RunId}\"", page.Html, StringComparison.Ordinal);

        // The janitor keeps a finished run's workspace for its TTL, and removes it once the TTL has passed.
        var workspaces = _factory.Service<Baton.Workspaces.GitWorkspaces>();
        Assert.Equal(0, await workspaces.SweepAsync(TimeSpan.FromHours(1), CancellationToken.None));
        Assert.Single((await client.ListWorkspacesAsync()).Workspaces);
        Assert.Equal(1, await workspaces.SweepAsync(TimeSpan.Zero, CancellationToken.None));
        Assert.Empty((await client.ListWorkspacesAsync()).Workspaces);
    }

    public void Dispose()
    {
        _factory.Dispose();
        _repo.Dispose();
    }
}
