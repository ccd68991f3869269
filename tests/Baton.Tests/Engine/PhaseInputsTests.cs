using Baton.Engine;
using Baton.Profiles;

namespace Baton.Tests.Engine;

/// <summary>What a phase reads before its agent starts follows from its templates, its worker's prompt and its checks.</summary>
public sealed class PhaseInputsTests
{
    private static PhaseDefinition Phase(string worker = PhaseDefinition.TemplateWorker, string? prompt = null,
        IReadOnlyList<string>? produces = null, Dictionary<string, string>? templates = null, IReadOnlyList<ArtifactCheck>? checks = null) =>
        new("p", worker, prompt, produces ?? ["out.md"], templates ?? [], checks ?? [], null, null, TimeSpan.FromMinutes(1), 1, TimeSpan.Zero);

    [Fact]
    public void Templates_that_name_nothing_of_the_run_read_nothing()
    {
        var needs = PhaseInputs.NeedsOf(Phase(templates: new() { ["out.md"] = "{{phase}} {{iteration}} {{run_id}} {{feedback}} {{project_name}}" }), null);
        Assert.True(needs.IsNothing);
    }

    [Fact]
    public void The_default_markdown_template_reads_the_intake_and_the_names_but_no_content()
    {
        var needs = PhaseInputs.NeedsOf(Phase(), null);
        Assert.Equal((true, true, 0), (needs.Intake, needs.ArtifactNames, needs.Artifacts.Count));
    }

    [Fact]
    public void A_named_artifact_is_read_through_the_prompt_placeholder_and_its_size()
    {
        var phase = Phase(prompt: "Review {{artifact:plan.md}} ({{title}})",
            templates: new() { ["out.md"] = "{{prompt}} / {{artifact_size:spec.md}}" });
        var needs = PhaseInputs.NeedsOf(phase, null);
        Assert.True(needs.Intake);
        Assert.False(needs.ArtifactNames);
        Assert.Equal(["plan.md", "spec.md"], needs.Artifacts.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_worker_reads_what_its_prompt_names_not_what_the_templates_name()
    {
        var phase = Phase(worker: "coder", templates: new() { ["out.md"] = "{{intake}} {{artifact:a.md}}" });
        Assert.True(PhaseInputs.NeedsOf(phase, "Do it: {{artifact:b.md}}").Artifacts.SetEquals(["b.md"]));
        Assert.False(PhaseInputs.NeedsOf(phase, "Do it: {{artifact:b.md}}").Intake);
        Assert.True(PhaseInputs.NeedsOf(phase, "{{intake}}\n\nReviewer feedback to address: {{feedback}}\n").Intake);
    }

    [Fact]
    public void Checks_read_the_earlier_artifacts_they_look_at_not_the_ones_the_phase_produces()
    {
        var phase = Phase(templates: new() { ["out.md"] = "x" }, checks: [new("out.md", "x"), new("design.md", "## API")]);
        var needs = PhaseInputs.NeedsOf(phase, null);
        Assert.Equal(["design.md"], needs.Artifacts);
        Assert.Empty(Checks.Evaluate(phase, new Dictionary<string, string> { ["out.md"] = "x" }, new Dictionary<string, string> { ["design.md"] = "## API\n" }));
        Assert.Equal(["design.md is missing"], Checks.Evaluate(phase, new Dictionary<string, string> { ["out.md"] = "x" }, new Dictionary<string, string>()));
        Assert.Equal(["out.md was not produced"], Checks.Evaluate(phase, new Dictionary<string, string>(), new Dictionary<string, string> { ["design.md"] = "## API" }));
    }
}
