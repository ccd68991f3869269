namespace Baton.Tests.Support;

/// <summary>Small profiles for tests, written into the user profile folder.</summary>
public static class TestProfiles
{
    /// <summary>A command phase (worker `sleeper`: sleep-then-write.sh) between two template phases: busy nodes in cluster tests.</summary>
    public const string Mixed = """
        name: mixed
        phases:
          - name: plan
            produces: [plan.md]
          - name: build
            worker: sleeper
            prompt: "{{intake}}"
            max_attempts: 3
          - name: report
            produces: [report.md]
        """;

    public const string Straight = """
        name: straight
        phases:
          - name: one
            produces: [one.md]
          - name: two
            produces: [two.md]
          - name: three
            produces: [three.md]
        """;

    /// <summary>The check on `verify` passes only from iteration 2, so the first pass loops back to `build`.</summary>
    public const string Loop = """
        name: loop
        max_iterations: 3
        phases:
          - name: build
            produces: [build.md]
          - name: verify
            produces: [report.md]
            checks:
              - artifact: report.md
                contains: "iteration 2"
            on_failure:
              retry_from: build
        """;

    public const string Gated = """
        name: gated
        max_iterations: 2
        phases:
          - name: draft
            produces: [draft.md]
            gate:
              timeout: 1h
              on_timeout: OUTCOME
              reject_to: [draft]
          - name: publish
            produces: [published.md]
        """;

    public const string External = """
        name: handoff
        phases:
          - name: plan
            produces: [plan.md]
          - name: build
            worker: external
          - name: wrap
            produces: [wrap.md]
        """;

    public const string Manual = """
        name: stepwise
        mode: manual
        phases:
          - name: first
            produces: [first.md]
          - name: second
            produces: [second.md]
            checks:
              - artifact: second.md
                contains: "never there"
          - name: third
            produces: [third.md]
        """;

    public static string Slow(string delay) => $"""
        name: slow
        phases:
          - name: first
            produces: [first.md]
            delay: {delay}
          - name: second
            produces: [second.md]
            delay: {delay}
          - name: third
            produces: [third.md]
            delay: {delay}
        """;
}
