using Baton.Profiles;

namespace Baton.Tests.Profiles;

public class ProfileParserTests
{
    [Theory]
    [InlineData("software_delivery", 5)]
    [InlineData("planning_rail", 3)]
    [InlineData("pm_architect_engineer_qa", 4)]
    public void Built_in_profiles_load_without_errors(string name, int phases)
    {
        var set = new ProfileCatalog(Path.Combine(Path.GetTempPath(), "baton-no-such-folder")).Current();
        Assert.Empty(set.Errors);
        var profile = set.Find(name)!.Profile;
        Assert.Equal(phases, profile.Phases.Count);
        Assert.All(profile.Phases, p => Assert.Equal(PhaseDefinition.TemplateWorker, p.Worker));
    }

    [Fact]
    public void Pm_architect_engineer_qa_gates_the_architecture_and_allows_five_iterations()
    {
        var profile = new ProfileCatalog("/nonexistent").Current().Find("pm_architect_engineer_qa")!.Profile;
        Assert.Equal(5, profile.MaxIterations);
        Assert.Equal(["architect", "pm"], profile.Phase("architect")!.Gate!.RejectTo);
        Assert.Equal("engineer", profile.Phase("qa")!.RetryFrom);
    }

    [Fact]
    public void A_full_profile_parses_every_field()
    {
        var (profile, errors) = ProfileParser.Parse("""
            name: full
            description: all of it
            mode: manual
            max_iterations: 4
            budget_usd: 2.5
            phases:
              - name: a
                worker: template
                prompt: hello {{intake}}
                produces: [a.md, a.json]
                templates:
                  a.md: "# {{title}}"
                timeout: 90s
                max_attempts: 2
                delay: 10ms
              - name: b
                worker: external
                checks:
                  - artifact: a.md
                    contains: "#"
                gate:
                  timeout: 2h
                  on_timeout: approve
                  reject_to: [b, a]
                on_failure:
                  retry_from: a
            """, "full.yaml");
        Assert.Empty(errors);
        Assert.Equal((RunMode.Manual, 4, 2.5m), (profile!.Mode, profile.MaxIterations, profile.BudgetUsd));
        var a = profile.Phase("a")!;
        Assert.Equal((TimeSpan.FromSeconds(90), 2, TimeSpan.FromMilliseconds(10)), (a.Timeout, a.MaxAttempts, a.Delay));
        Assert.Equal("# {{title}}", a.Templates["a.md"]);
        var b = profile.Phase("b")!;
        Assert.True(b.IsExternal);
        Assert.Equal((TimeSpan.FromHours(2), GateTimeoutAction.Approve), (b.Gate!.Timeout, b.Gate.OnTimeout));
        Assert.Equal("a", b.RetryFrom);
    }

    [Fact]
    public void Every_error_is_reported_with_its_line()
    {
        var (profile, errors) = ProfileParser.Parse("""
            name: Bad Name
            mode: sometimes
            max_iterations: 0
            colour: blue
            phases:
              - name: a
                worker: GPT 9
                produces: [a.md, a.md]
                timeout: soon
              - name: a
                gate:
                  reject_to: [c]
                on_failure:
                  retry_from: c
              - name: c
                checks:
                  - artifact: nowhere.md
            """, "bad.yaml");
        Assert.Null(profile);
        var lines = errors.Select(e => (e.Line, e.Message)).ToList();
        Assert.Contains(lines, e => e.Line == 1 && e.Message.Contains("name must be", StringComparison.Ordinal));
        Assert.Contains(lines, e => e.Line == 2 && e.Message.Contains("auto, manual", StringComparison.Ordinal));
        Assert.Contains(lines, e => e.Line == 3 && e.Message.Contains("max_iterations", StringComparison.Ordinal));
        Assert.Contains(lines, e => e.Line == 4 && e.Message.Contains("unknown profile field 'colour'", StringComparison.Ordinal));
        Assert.Contains(lines, e => e.Line == 7 && e.Message.Contains("worker 'GPT 9' is not a worker name", StringComparison.Ordinal));
        Assert.Contains(lines, e => e.Line == 8 && e.Message.Contains("listed twice", StringComparison.Ordinal));
        Assert.Contains(lines, e => e.Line == 9 && e.Message.Contains("duration", StringComparison.Ordinal));
        Assert.Contains(lines, e => e.Line == 10 && e.Message.Contains("defined twice", StringComparison.Ordinal));
        Assert.Contains(lines, e => e.Message.Contains("reject_to 'c'", StringComparison.Ordinal));
        Assert.Contains(lines, e => e.Message.Contains("retry_from 'c'", StringComparison.Ordinal));
        Assert.Contains(lines, e => e.Message.Contains("nowhere.md", StringComparison.Ordinal));
        Assert.All(errors, e => Assert.Equal("bad.yaml", e.File));
    }

    [Theory]
    [InlineData("", "a profile is a YAML mapping")]
    [InlineData("- just\n- a list", "a profile is a YAML mapping")]
    [InlineData("name: x\nphases: [\n", "invalid YAML")]
    [InlineData("name: x", "`phases` is required")]
    [InlineData("name: x\nphases: []", "non-empty list")]
    [InlineData("phases:\n  - name: a", "`name` is required")]
    public void Broken_documents_are_errors_not_exceptions(string yaml, string message)
    {
        var (profile, errors) = ProfileParser.Parse(yaml, "broken.yaml");
        Assert.Null(profile);
        Assert.Contains(errors, e => e.Message.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void A_phase_names_the_tools_a_human_approves()
    {
        var (profile, errors) = ProfileParser.Parse("name: x\nphases:\n  - name: a\n    worker: claude-code\n    tool_approvals: [Bash, WebFetch, mcp__github__create_issue]\n  - name: b\n", "p.yaml");
        Assert.Empty(errors);
        Assert.Equal(["Bash", "WebFetch", "mcp__github__create_issue"], profile!.Phases[0].ToolApprovals);
        Assert.Empty(profile.Phases[1].ToolApprovals);
    }

    [Theory]
    [InlineData("tool_approvals: Bash", "`tool_approvals` must be a list of names")]
    [InlineData("tool_approvals: [Bash, Bash]", "a tool is listed twice")]
    [InlineData("tool_approvals: [\"Bash(rm -rf)\"]", "tool name 'Bash(rm -rf)' must be 1-128 characters")]
    [InlineData("tool_approvals: [\"-Bash\"]", "tool name '-Bash' must be")]
    [InlineData("tool_approvals: [{a: b}]", "`tool_approvals` must be a list of names")]
    public void Bad_tool_approvals_are_errors_with_their_line(string field, string message)
    {
        var (profile, errors) = ProfileParser.Parse($"name: x\nphases:\n  - name: a\n    worker: claude-code\n    {field}\n", "p.yaml");
        Assert.Null(profile);
        var error = Assert.Single(errors);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Equal(("p.yaml", 5), (error.File, error.Line));
    }

    [Fact]
    public void A_phase_lists_at_most_32_tools_to_approve()
    {
        var tools = string.Join(", ", Enumerable.Range(0, 33).Select(i => $"Tool{i}"));
        var (_, errors) = ProfileParser.Parse($"name: x\nphases:\n  - name: a\n    tool_approvals: [{tools}]\n", "p.yaml");
        Assert.Equal("p.yaml:4: `tool_approvals` lists at most 32 tools", Assert.Single(errors).ToString());
        var (_, long_) = ProfileParser.Parse($"name: x\nphases:\n  - name: a\n    tool_approvals: [{new string('B', 129)}]\n", "p.yaml");
        Assert.Contains("must be 1-128 characters", Assert.Single(long_).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("name: x\nphases:\n  - name: [a\n    worker: template\n", 4, 5)]
    [InlineData("name: x\nphases: [\n", 3, 1)]
    [InlineData("name: x\nphases:\n  - name: a\n   worker: b\n", 4, 4)]
    [InlineData("name: 'x\nphases: []\n", 1, 7)]
    [InlineData("name: x\nphases: {a: [}\n", 2, 14)]
    public void A_yaml_syntax_error_is_one_error_with_its_line_and_column(string yaml, int line, int column)
    {
        var (profile, errors) = ProfileParser.Parse(yaml, "broken.yaml");

        Assert.Null(profile);
        var error = Assert.Single(errors);
        Assert.StartsWith("invalid YAML: ", error.Message, StringComparison.Ordinal);
        Assert.Equal(("broken.yaml", line, column), (error.File, error.Line, error.Column));
        Assert.Equal($"broken.yaml:{line}:{column}: {error.Message}", error.ToString());
    }

    [Fact]
    public void A_user_profile_with_errors_is_listed_as_errors_and_the_rest_still_load()
    {
        var folder = Directory.CreateTempSubdirectory("baton-profiles-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(folder, "good.yaml"), "name: good\nphases:\n  - name: a\n    produces: [a.md]\n");
            File.WriteAllText(Path.Combine(folder, "bad.yml"), "name: bad\nphases:\n  - name: a\n    bogus: 1\n");
            var set = new ProfileCatalog(folder).Current();
            Assert.NotNull(set.Find("good"));
            Assert.NotNull(set.Find("software_delivery"));
            Assert.Null(set.Find("bad"));
            var error = Assert.Single(set.Errors);
            Assert.Equal(("bad.yml", 4), (error.File, error.Line)); // the file's name: every role reads errors

            File.WriteAllText(Path.Combine(folder, "bad.yml"), "name: bad\nphases:\n  - name: a\n");
            Assert.NotNull(new ProfileCatalog(folder).Current().Find("bad"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Theory]
    [InlineData("    timeout: 60d\n", "at most 49d")]
    [InlineData("    delay: 50d\n", "at most 49d")]
    [InlineData("    timeout: 99999999999d\n", "duration")]
    [InlineData("    gate:\n      timeout: 400d\n", "at most 365d")]
    [InlineData("    produces: [a.md]\n    templates:\n      ? [a]\n      : x\n", "artifact name")]
    public void Out_of_range_and_odd_values_are_errors_not_exceptions(string phaseYaml, string message)
    {
        var (profile, errors) = ProfileParser.Parse("name: x\nphases:\n  - name: a\n" + phaseYaml, "odd.yaml");
        Assert.Null(profile);
        Assert.Contains(errors, e => e.Message.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void Two_phases_cannot_produce_the_same_artifact()
    {
        var (profile, errors) = ProfileParser.Parse("name: x\nphases:\n  - name: a\n    produces: [out.md]\n  - name: b\n    produces: [out.md]\n", "dup.yaml");
        Assert.Null(profile);
        Assert.Contains(errors, e => e.Line == 6 && e.Message.Contains("already produced by phase 'a'", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("1500ms", 1500)]
    [InlineData("30s", 30_000)]
    [InlineData("5m", 300_000)]
    [InlineData("2h", 7_200_000)]
    [InlineData("7d", 604_800_000)]
    public void Durations_parse(string text, long ms)
    {
        Assert.True(Durations.TryParse(text, out var value));
        Assert.Equal(ms, (long)value.TotalMilliseconds);
    }

    [Theory]
    [InlineData("")]
    [InlineData("5")]
    [InlineData("-1s")]
    [InlineData("1w")]
    public void Bad_durations_do_not_parse(string text) => Assert.False(Durations.TryParse(text, out _));
}
