using Baton.Ops;

namespace Baton.Tests.Ops;

/// <summary>The phase starts the phase duration histogram measures from, kept by run.</summary>
public class PhaseStartsTests
{
    [Fact]
    public void A_phase_ends_with_its_own_start_and_only_once()
    {
        var starts = new PhaseStarts(maxRuns: 100);
        starts.Started("run-a", "draft", 1, at: 10);
        starts.Started("run-a", "review", 1, at: 20);
        starts.Started("run-a", "draft", 2, at: 30);
        starts.Started("run-b", "draft", 1, at: 40);

        Assert.Equal(20, starts.Ended("run-a", "review", 1));
        Assert.Null(starts.Ended("run-a", "review", 1));
        Assert.Equal(30, starts.Ended("run-a", "draft", 2));
        Assert.Equal(10, starts.Ended("run-a", "draft", 1));
        Assert.Null(starts.Ended("run-a", "draft", 1));
        Assert.Equal(40, starts.Ended("run-b", "draft", 1));
        Assert.Equal(0, starts.Runs);
    }

    [Fact]
    public void A_second_start_of_an_open_phase_keeps_the_first()
    {
        // A phase starts when its job is queued, and its phase.started event comes later.
        var starts = new PhaseStarts(maxRuns: 100);
        starts.Started("run-a", "draft", 1, at: 10);
        starts.Started("run-a", "draft", 1, at: 15);

        Assert.Equal(10, starts.Ended("run-a", "draft", 1));
        Assert.Equal(0, starts.Runs);
    }

    [Fact]
    public void A_finished_run_forgets_its_open_phases_and_no_other_runs()
    {
        var starts = new PhaseStarts(maxRuns: 100);
        starts.Started("run-a", "draft", 1, at: 10);
        starts.Started("run-a", "review", 1, at: 20);
        starts.Started("run-b", "draft", 1, at: 30);

        starts.Forget("run-a");
        starts.Forget("run-c");

        Assert.Equal(1, starts.Runs);
        Assert.Null(starts.Ended("run-a", "draft", 1));
        Assert.Equal(30, starts.Ended("run-b", "draft", 1));
    }

    [Fact]
    public void Past_its_bound_it_forgets_every_start_instead_of_growing()
    {
        var starts = new PhaseStarts(maxRuns: 3);
        for (var i = 0; i < 3; i++)
        {
            starts.Started($"run-{i}", "draft", 1, at: i);
        }
        Assert.Equal(3, starts.Runs);

        starts.Started("run-3", "draft", 1, at: 3);

        Assert.Equal(1, starts.Runs);
        Assert.Null(starts.Ended("run-0", "draft", 1));
        Assert.Equal(3, starts.Ended("run-3", "draft", 1));
    }

    [Fact]
    public void Starts_and_ends_from_many_threads_leave_nothing_behind()
    {
        var starts = new PhaseStarts(maxRuns: 1_000_000);
        Parallel.For(0, 20_000, i =>
        {
            var run = $"run-{i % 500}";
            starts.Started(run, $"phase-{i}", 1, at: i);
            Assert.Equal(i, starts.Ended(run, $"phase-{i}", 1));
        });
        Assert.Equal(0, starts.Runs);
    }
}
