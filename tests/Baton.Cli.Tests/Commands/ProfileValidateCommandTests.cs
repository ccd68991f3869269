using System.Text.Json;
using Baton.Cli.Tests.Support;

namespace Baton.Cli.Tests.Commands;

/// <summary>`baton profile validate`: the server's parser, run locally, with no server.</summary>
public sealed class ProfileValidateCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Write(string name, string yaml)
    {
        var path = Path.Combine(_dir.Path, name);
        File.WriteAllText(path, yaml);
        return name;
    }

    [Fact]
    public async Task An_invalid_profile_prints_every_error_with_its_line_and_exits_1()
    {
        var file = Write("broken.yaml", """
            name: broken
            phases:
              - name: draft
                worker: Robot 9
              - name: review
                worker: template
                gate:
                  reject_to: [nowhere]
            """);

        var result = await BatonProcess.RunAsync(_dir.Path, null, "profile", "validate", file);

        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        Assert.Equal(
            [
                "broken.yaml:4: worker 'Robot 9' is not a worker name (a-z, 0-9, '_' or '-'): template, external, or a worker you created",
                "broken.yaml:8: reject_to 'nowhere' is not this phase or an earlier one",
                "broken.yaml: 2 error(s)",
            ],
            result.Stdout.TrimEnd().Split('\n'));
    }

    [Fact]
    public async Task Invalid_yaml_is_one_error_with_its_line_and_column()
    {
        var file = Write("bad-yaml.yaml", "name: x\nphases: [\n  - a: b\n");

        var result = await BatonProcess.RunAsync(_dir.Path, null, "profile", "validate", file);

        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        Assert.Matches("^bad-yaml\\.yaml:3:3: invalid YAML: ", result.Stdout);
    }

    [Fact]
    public async Task Every_yaml_syntax_error_is_file_line_column_message()
    {
        var unclosed = Write("unclosed.yaml", "name: x\nphases:\n  - name: [a\n    worker: template\n");
        var indent = Write("indent.yaml", "name: x\nphases:\n  - name: a\n   worker: b\n");
        var quote = Write("quote.yaml", "name: 'x\nphases: []\n");

        var result = await BatonProcess.RunAsync(_dir.Path, null, "profile", "validate", unclosed, indent, quote);

        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        Assert.Equal("", result.Stderr);
        var lines = result.Stdout.TrimEnd().Split('\n');
        Assert.Equal(6, lines.Length);
        Assert.Matches(@"^unclosed\.yaml:4:5: invalid YAML: \S", lines[0]);
        Assert.Matches(@"^indent\.yaml:4:4: invalid YAML: \S", lines[2]);
        Assert.Matches(@"^quote\.yaml:1:7: invalid YAML: \S", lines[4]);
        Assert.Equal(["unclosed.yaml: 1 error(s)", "indent.yaml: 1 error(s)", "quote.yaml: 1 error(s)"], [lines[1], lines[3], lines[5]]);
    }

    [Fact]
    public async Task The_built_in_profiles_are_valid()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "Baton.slnx")))
        {
            root = root.Parent!;
        }
        var files = Directory.GetFiles(Path.Combine(root.FullName, "profiles"), "*.yaml").Order(StringComparer.Ordinal).ToArray();

        var result = await BatonProcess.RunAsync(_dir.Path, null, ["profile", "validate", .. files]);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(files.Length, result.Stdout.TrimEnd().Split('\n').Length);
        Assert.Contains("valid profile 'software_delivery' (discovery > design > implementation > test > document)", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_has_the_errors_as_fields()
    {
        var file = Write("two.yaml", "name: two\nphases:\n  - name: a\n    worker: No Body\n");

        var result = await BatonProcess.RunAsync(_dir.Path, null, "profile", "validate", file, "--json");

        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.False(json.RootElement.GetProperty("valid").GetBoolean());
        var error = Assert.Single(json.RootElement.GetProperty("errors").EnumerateArray());
        Assert.Equal(("two.yaml", 4), (error.GetProperty("file").GetString(), error.GetProperty("line").GetInt32()));
    }

    [Fact]
    public async Task A_missing_file_exits_3()
    {
        var result = await BatonProcess.RunAsync(_dir.Path, null, "profile", "validate", "nope.yaml");

        Assert.Equal("error: no file nope.yaml", result.FailsWithOneLine(ExitCodes.NotFound));
    }
}
