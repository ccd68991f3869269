using System.Globalization;
using System.Text;

namespace Baton.Bench;

/// <summary>The peers' workload section of the report: each workload's figures, then Baton beside the peers and the targets.</summary>
internal static class PeersReport
{
    // Issue 10's targets, on this 2-core machine with synchronous=FULL.
    public const double TargetRunsPerSecond = 600;
    public const double TargetPhaseToPhaseP50 = 0.5;
    public const double TargetResumeToDoneP50 = 2;
    public const double TargetPeakRssMb = 150;
    public const double TargetIdleCpuPercent = 1;

    /// <summary>What ../shared/STACK.md measured for a peer on this machine kind (2026-12-05), the same workload.</summary>
    private sealed record Peer(string Name, double RunsPerSecond, double GatedRunsPerSecond, double EndToEndP50, double PhaseToPhaseP50, double ResumeToDoneP50, double CpuMsPerRun);

    private static readonly Peer LangGraph = new("LangGraph JS 1.4, SQLite FULL", 230, 199, 6.7, 1.03, 3.7, 3.9);
    private static readonly Peer Dbos = new("DBOS Transact TS 5.3, PostgreSQL 15", 237, 155, 9.9, 1.52, 7.1, 7.1);

    public static void Append(StringBuilder md, IReadOnlyList<PeersResult> results, BenchOptions o)
    {
        md.AppendLine("### 5. The peers' workload through the HTTP API, server in its own process");
        md.AppendLine();
        md.AppendLine(Inv($"""
            The server is `dotnet Baton.Server.dll` (the Release build beside the bench) as a process of its own, with the shipped defaults ({(o.PeersWorkers is { } w ? Inv($"BATON_WORKERS {w} (--peers-workers)") : Inv($"BATON_WORKERS {Baton.Engine.EngineOptions.DefaultConcurrency}"))}, SQLite WAL + synchronous=FULL) and rate limiting off, a fresh data dir and a free port on 127.0.0.1 per workload, stopped by its PID afterwards. Runs use the bench profiles of part 1: {BenchServer.StraightPhases} template phases, and for B a gate after phase {BenchServer.GateAfterPhase} that the bench approves (`POST /api/runs/:id/approve`) as soon as the client sees it open. A client keeps *in flight* runs outstanding: create, wait until finished, create the next. It learns of gates and completions from one stream of every run's events (GET /api/events), which the server's one event reader feeds anyway: cheaper for the server than a stream per run or polling. Each workload starts after warm-up rounds of 100 runs ({o.PeersInFlight} in flight) until the server's CPU per run stops falling and it rests between rounds (under 2 % of a core over 1 s: tier-1 JIT done; at least 3 s, at most 90 s).
            *runs/s*, *phases/s*: first run created → last completed (server clock). *e2e*: POST sent → the run's completion event received (client). *phase→phase*: `phase.completed` → the next `phase.started` of the same run, from the events table (whole milliseconds; the mean is unbiased, a p50 of 0 means under 1 ms). *resume→done*: `gate.approved` → `run.completed` (events table), and approve answered → completion received (client). *CPU/run*: the server process's user + system time (`/proc/PID/stat`) from the first create to the last completion, per run. *peak RSS*: VmHWM of the server. *idle CPU*: the server's CPU over {o.IdleTime.TotalSeconds:0} s, from {o.IdleSettle.TotalSeconds:0} s after the load (the event stream closed), in % of one core. *load average*: the machine's, as the measured runs began (other work on the shared cores slows everything here).
            """));
        md.AppendLine();
        md.AppendLine("| workload | pass | runs | failed | runs/s | phases/s | e2e p50 (ms) | e2e p95 (ms) | phase→phase p50 / mean (ms) | resume→done p50, server (ms) | resume→done p50, client (ms) | server CPU ms/run | peak RSS (MB) | idle CPU (%) | load average |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var r in results)
        {
            var gated = r.Workload.Gated;
            md.AppendLine(Inv($"| {r.Workload.Name} | {r.Pass} | {r.Workload.Runs} | {r.Facts.RunsFailed} | {r.RunsPerSecond:0} | {r.PhasesPerSecond:0} | {Ms(r.EndToEnd.P50)} | {Ms(r.EndToEnd.P95)} | {Whole(r.Facts.Wake.P50)} / {Ms(r.Facts.Wake.Mean)} | {(gated ? Whole(r.Facts.ResumeToDone.P50) : "")} | {(gated ? Ms(r.ResumeToDoneClient.P50) : "")} | {r.CpuMsPerRun:0.00} | {Mb(r.PeakRssBytes):0} | {r.IdleCpuPercent:0.00} | {r.LoadAverage} |"));
        }
        md.AppendLine();

        var loaded = Of(results, gated: false, sequential: false);
        var sequential = Of(results, gated: false, sequential: true);
        var gatedLoaded = Of(results, gated: true, sequential: false);
        var gatedSequential = Of(results, gated: true, sequential: true);
        md.AppendLine(Inv($"Baton beside the peers (../shared/STACK.md, same machine kind and workload) and issue 10's targets; medians over passes. The peers' latencies are one run at a time (a p50 of 6.7 ms at 230 runs/s and 32 in flight would break Little's law), so Baton's are taken from its one-at-a-time workloads. *Baton ÷ LangGraph*: above 1 is better for a rate, worse for a time."));
        md.AppendLine();
        md.AppendLine($"| figure | Baton | {LangGraph.Name} | {Dbos.Name} | Baton ÷ LangGraph | target | met? |");
        md.AppendLine("|---|---:|---:|---:|---:|---|---|");
        Compare(md, Inv($"runs/s, A, {o.PeersInFlight} in flight"), Median.Of(loaded.Select(r => r.RunsPerSecond)), "0", p => p.RunsPerSecond, TargetRunsPerSecond, higherIsBetter: true, "≥ {0:0}");
        Compare(md, Inv($"phase transitions/s, A, {o.PeersInFlight} in flight"), Median.Of(loaded.Select(r => r.PhasesPerSecond)), "0", p => p.RunsPerSecond * BenchServer.StraightPhases, TargetRunsPerSecond * BenchServer.StraightPhases, higherIsBetter: true, "≥ {0:N0}");
        Compare(md, Inv($"runs/s, B, {o.PeersInFlight} in flight"), Median.Of(gatedLoaded.Select(r => r.RunsPerSecond)), "0", p => p.GatedRunsPerSecond, null, higherIsBetter: true, "");
        Compare(md, "e2e p50 (ms), A, one at a time", Median.Of(sequential.Select(r => r.EndToEnd.P50)), "0.00", p => p.EndToEndP50, null, higherIsBetter: false, "");
        // Whole-millisecond stamps cannot show a p50 under 1 ms; the mean of their differences is unbiased, and for
        // this right-skewed distribution it lies above the p50, so judging the target on it errs on the strict side.
        var wakeMean = Median.Of(sequential.Select(r => r.Facts.Wake.Mean));
        Compare(md, "phase→phase (ms), A, one at a time: events table mean (p50 in whole ms beside)", wakeMean, "0.000", p => p.PhaseToPhaseP50, TargetPhaseToPhaseP50, higherIsBetter: false, "p50 ≤ {0:0.0} ms",
            Inv($" (p50 {Median.Of(sequential.Select(r => r.Facts.Wake.P50)):0})"));
        Compare(md, "resume→done p50 (ms), B, one at a time (events table, whole ms)", Median.Of(gatedSequential.Select(r => r.Facts.ResumeToDone.P50)), "0", p => p.ResumeToDoneP50, TargetResumeToDoneP50, higherIsBetter: false, "≤ {0:0} ms",
            Inv($" (client {Ms(Median.Of(gatedSequential.Select(r => r.ResumeToDoneClient.P50)))})"));
        Compare(md, Inv($"server CPU ms per run, A, {o.PeersInFlight} in flight (DBOS: app + database)"), Median.Of(loaded.Select(r => r.CpuMsPerRun)), "0.00", p => p.CpuMsPerRun, null, higherIsBetter: false, "");
        Compare(md, "peak RSS of the server (MB), largest of the workloads", results.Max(r => Mb(r.PeakRssBytes)), "0", null, TargetPeakRssMb, higherIsBetter: false, "≤ {0:0} MB");
        Compare(md, "idle CPU after the load (% of one core), largest of the workloads", results.Max(r => r.IdleCpuPercent), "0.00", null, TargetIdleCpuPercent, higherIsBetter: false, "≤ {0:0} %");
        md.AppendLine();
    }

    /// <summary>Rows for the report's closing targets table.</summary>
    public static IEnumerable<string> TargetRows(IReadOnlyList<PeersResult> results)
    {
        var loaded = Of(results, gated: false, sequential: false);
        var rate = Median.Of(loaded.Select(r => r.RunsPerSecond));
        var wake = Median.Of(Of(results, gated: false, sequential: true).Select(r => r.Facts.Wake.Mean));
        var resume = Median.Of(Of(results, gated: true, sequential: true).Select(r => r.Facts.ResumeToDone.P50));
        var rss = results.Max(r => Mb(r.PeakRssBytes));
        var idle = results.Max(r => r.IdleCpuPercent);
        yield return Inv($"| peers' workload A: ≥ {TargetRunsPerSecond:0} runs/s ({TargetRunsPerSecond * BenchServer.StraightPhases:N0} transitions/s) | {rate:0}/s | {Verdict(rate, TargetRunsPerSecond, higherIsBetter: true)} |");
        yield return Inv($"| peers' workload A: phase→phase p50 ≤ {TargetPhaseToPhaseP50:0.0} ms (judged on the events table's mean, see part 5) | {wake:0.000} ms | {Verdict(wake, TargetPhaseToPhaseP50, higherIsBetter: false)} |");
        yield return Inv($"| peers' workload B: resume→done p50 ≤ {TargetResumeToDoneP50:0} ms | {resume:0} ms | {Verdict(resume, TargetResumeToDoneP50, higherIsBetter: false)} |");
        yield return Inv($"| peers' workload: peak RSS ≤ {TargetPeakRssMb:0} MB | {rss:0} MB | {Verdict(rss, TargetPeakRssMb, higherIsBetter: false)} |");
        yield return Inv($"| peers' workload: idle CPU ≤ {TargetIdleCpuPercent:0} % | {idle:0.00} % | {Verdict(idle, TargetIdleCpuPercent, higherIsBetter: false)} |");
    }

    private static List<PeersResult> Of(IEnumerable<PeersResult> results, bool gated, bool sequential) =>
        results.Where(r => r.Workload.Gated == gated && (r.Workload.InFlight == 1) == sequential).ToList();

    private static void Compare(StringBuilder md, string figure, double baton, string format, Func<Peer, double>? peer, double? target,
        bool higherIsBetter, string targetText, string note = "")
    {
        // The peers' figures as STACK.md gives them.
        var langGraph = peer is null ? "–" : peer(LangGraph).ToString("0.##", CultureInfo.InvariantCulture);
        var dbos = peer is null ? "–" : peer(Dbos).ToString("0.##", CultureInfo.InvariantCulture);
        var ratio = peer is null || double.IsNaN(baton) ? "–" : (baton / peer(LangGraph)).ToString("0.00", CultureInfo.InvariantCulture) + "×";
        var goal = target is { } t ? string.Format(CultureInfo.InvariantCulture, targetText, t) : "–";
        var met = target is { } t2 ? Verdict(baton, t2, higherIsBetter) : "";
        md.AppendLine($"| {figure} | {(double.IsNaN(baton) ? "–" : baton.ToString(format, CultureInfo.InvariantCulture))}{note} | {langGraph} | {dbos} | {ratio} | {goal} | {met} |");
    }

    /// <summary>"yes", or how far off: a rate short by a factor, a time or size over by one.</summary>
    private static string Verdict(double measured, double target, bool higherIsBetter)
    {
        if (double.IsNaN(measured))
        {
            return "–";
        }
        if (higherIsBetter ? measured >= target : measured <= target)
        {
            return "yes";
        }
        return higherIsBetter
            ? Inv($"**no**, {target / measured:0.0}× short")
            : measured <= 0 ? "**no**" : Inv($"**no**, {measured / target:0.0}× over");
    }

    /// <summary>A figure from whole-millisecond stamps, shown as what it is.</summary>
    private static string Whole(double ms) => double.IsNaN(ms) ? "–" : ms.ToString("0", CultureInfo.InvariantCulture);

    private static double Mb(long bytes) => bytes / 1_000_000.0;

    private static string Ms(double ms) => Report.Ms(ms);

    private static string Inv(FormattableString s) => Report.Inv(s);
}
