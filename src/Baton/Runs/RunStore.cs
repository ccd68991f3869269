using System.Data;
using System.Text;
using Baton.Client;
using Baton.Dashboard;
using Baton.Profiles;
using Baton.Storage;
using Dapper;

namespace Baton.Runs;

/// <summary>
/// The one owner of the `runs`, `run_counts` (kept by triggers), `phase_runs` and `profile_versions` tables' SQL: a
/// run's creation and its reads (list pages, details, metrics) here, the writes of transitions and phase starts in
/// RunStore.Transitions.cs.
/// </summary>
public static partial class RunStore
{
    /// <summary>What creating a run stores in `runs` (and `profile_versions`, once per profile version).</summary>
    public sealed record NewRunRow(
        string Id, LoadedProfile Profile, string? ProjectName, RunMode Mode, decimal? BudgetUsd, string? IdempotencyKey,
        string RequestHash, string Actor, string? KeyId, string? RepositoryId, DateTimeOffset Now, string? TraceParent = null)
    {
        /// <summary>A fork's (ADR 38): the run it comes from, the phase it starts at, and the commit its branch starts at.</summary>
        public (string ParentRunId, string AtPhase, string? Commit)? Fork { get; init; }
    }

    /// <summary>
    /// Stores the profile version the run uses (unless it is stored already) and the run, pending. False when another
    /// request with the run's Idempotency-Key created its run first: on PostgreSQL a create racing on another node
    /// waits here for that one to commit, and stores nothing (rather than failing on the unique key).
    /// </summary>
    public static async Task<bool> InsertAsync(IDbConnection c, IDbTransaction tx, NewRunRow run)
    {
        var now = run.Now.ToMs();
        await c.DeferAsync(
            "INSERT INTO profile_versions(hash, name, source, created_at) VALUES (@Hash, @name, @Source, @now) ON CONFLICT(hash) DO NOTHING",
            new { run.Profile.Hash, name = run.Profile.Profile.Name, run.Profile.Source, now }, tx);
        return await c.ExecuteAsync(
            """
            INSERT INTO runs(id, profile, profile_hash, project_name, status, mode, current_phase, iteration, budget_usd,
                             idempotency_key, request_hash, created_by, created_by_key, created_at, updated_at, repository_id, trace_parent,
                             parent_run_id, forked_at_phase, fork_commit)
            VALUES (@id, @profile, @hash, @project, 'pending', @mode, NULL, 1, @budget, @idempotencyKey, @requestHash, @actor, @keyId, @now, @now, @repository, @traceParent,
                    @parent, @forkedAt, @forkCommit)
            ON CONFLICT(idempotency_key) DO NOTHING
            """,
            new
            {
                id = run.Id,
                profile = run.Profile.Profile.Name,
                hash = run.Profile.Hash,
                project = run.ProjectName,
                mode = run.Mode.Wire(),
                budget = run.BudgetUsd,
                idempotencyKey = run.IdempotencyKey,
                requestHash = run.RequestHash,
                actor = run.Actor,
                keyId = run.KeyId,
                now,
                repository = run.RepositoryId,
                traceParent = run.TraceParent,
                parent = run.Fork?.ParentRunId,
                forkedAt = run.Fork?.AtPhase,
                forkCommit = run.Fork?.Commit,
            }, tx) == 1;
    }

    /// <summary>The run a request with this Idempotency-Key created, if one did.</summary>
    public static Task<RunRow?> FindByIdempotencyKeyAsync(IDbConnection c, IDbTransaction? tx, string idempotencyKey) =>
        c.QuerySingleOrDefaultAsync<RunRow?>($"SELECT {RunRow.Columns} FROM runs WHERE idempotency_key = @idempotencyKey", new { idempotencyKey }, tx);

    /// <summary>
    /// The key's runs not finished yet, but <paramref name="exceptRunId"/> (the one its transaction is creating), counted
    /// up to <paramref name="upTo"/>: a quota check needs no more, and every create of a key with thousands of runs
    /// waiting at gates would otherwise walk them all.
    /// </summary>
    public static Task<long> CountActiveOfKeyAsync(IDbConnection c, IDbTransaction? tx, string keyId, string exceptRunId, long upTo) =>
        c.ExecuteScalarAsync<long>(CountActiveOfKeySql, new { keyId, exceptRunId, upTo }, tx);

    /// <summary>
    /// The statuses are written in the query, as in the partial index ix_runs_active_by_key (0027): both engines use a
    /// partial index only for a query whose condition implies the index's, which a parameter's value cannot.
    /// </summary>
    internal const string CountActiveOfKeySql =
        """
        SELECT COUNT(*) FROM (
            SELECT 1 FROM runs
            WHERE created_by_key = @keyId AND status IN ('pending', 'running', 'awaiting_approval', 'paused') AND id <> @exceptRunId
            LIMIT @upTo) active
        """;

    public static async Task<bool> ExistsAsync(IDbConnection c, IDbTransaction? tx, string runId) =>
        await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM runs WHERE id = @runId", new { runId }, tx) != 0;

    /// <summary>The run's status as stored (snake_case), or null when there is no such run.</summary>
    public static Task<string?> StatusAsync(IDbConnection c, IDbTransaction? tx, string runId) =>
        c.ExecuteScalarAsync<string?>("SELECT status FROM runs WHERE id = @runId", new { runId }, tx);

    /// <summary>Runs not finished yet, by status, from the counts the triggers keep (no scan of `runs`): the `/metrics` gauge.</summary>
    public static Task<IEnumerable<(string Status, long Count)>> ActiveCountsAsync(IDbConnection c) =>
        c.QueryAsync<(string Status, long Count)>(
            """
            SELECT status, SUM(count) FROM run_counts
            WHERE status IN ('pending', 'running', 'awaiting_approval', 'paused') GROUP BY status
            """);

    /// <summary>All runs, finished or not, from the same counts (the database's bytes per run gauge).</summary>
    public static Task<long> TotalCountAsync(IDbConnection c) =>
        c.ExecuteScalarAsync<long>("SELECT COALESCE(SUM(count), 0) FROM run_counts");

    /// <summary>The run's profile's name, or null when there is no such run.</summary>
    public static Task<string?> ProfileAsync(IDbConnection c, string runId) =>
        c.ExecuteScalarAsync<string?>("SELECT profile FROM runs WHERE id = @runId", new { runId });

    /// <summary>Renames the run's project (null: none), as a change of the run: a new version.</summary>
    public static Task SetProjectAsync(IDbConnection c, IDbTransaction tx, string runId, string? project, DateTimeOffset now) =>
        c.ExecuteAsync("UPDATE runs SET project_name = @project, updated_at = @now, version = version + 1 WHERE id = @runId",
            new { project, now = now.ToMs(), runId }, tx);

    public sealed record ListQuery(string? Status, string? Profile, string? Project, int Limit, int Offset);

    public static async Task<RunList> ListAsync(IDbConnection c, IDbTransaction? tx, ListQuery q)
    {
        // Only the filters given appear in the SQL, so each query can use its (filter, created_at, id) index.
        var where = new StringBuilder();
        var counts = new StringBuilder();
        if (q.Status is not null)
        {
            where.Append(" AND status = @Status");
            counts.Append(" AND status = @Status");
        }
        if (q.Profile is not null)
        {
            where.Append(" AND profile = @Profile");
            counts.Append(" AND profile = @Profile");
        }
        if (q.Project is not null)
        {
            where.Append(" AND project_name = @Project");
            counts.Append(" AND project_name = @Project");
        }
        // The summary's columns only (the intake is not in this table any more: run_intakes, migration 0011), read by
        // hand: Dapper reads each column through GetValue, which asks SQLite its type and boxes it, and that was a
        // quarter of a list's CPU at 50 rows; on SQLite straight from the statement (Rows.ReadAsync).
        var runs = new List<RunSummary>(Math.Min(q.Limit, 1000));
        var args = new Dictionary<string, object?>
        {
            ["Status"] = q.Status, ["Profile"] = q.Profile, ["Project"] = q.Project, ["Limit"] = q.Limit, ["Offset"] = q.Offset,
        };
        using (var reader = await Rows.ReadAsync(c, tx,
            $"""
            SELECT id, profile, project_name, status, current_phase, iteration, mode, wait_reason, created_at, updated_at, cost_usd, tokens_used, cost_unknown, parent_run_id
            FROM runs WHERE 1 = 1{where} ORDER BY created_at DESC, id DESC LIMIT @Limit OFFSET @Offset
            """, args))
        {
            while (reader.Read())
            {
                runs.Add(new RunSummary(
                    reader.GetString(0), reader.GetString(1), reader.GetNullableString(2), reader.GetString(3), reader.GetNullableString(4),
                    reader.GetInt32(5), reader.GetString(6), reader.GetNullableString(7), Times.FromMs(reader.GetInt64(8)), Times.FromMs(reader.GetInt64(9)),
                    (decimal)reader.GetDouble(10), reader.GetInt64(11), reader.GetBoolean(12), reader.GetNullableString(13)));
            }
        }
        var total = await c.ExecuteScalarAsync<long>($"SELECT COALESCE(SUM(count), 0) FROM run_counts WHERE 1 = 1{counts}", q, tx);
        return new RunList(runs, total, q.Limit, q.Offset);
    }


    /// <summary>
    /// A page of the dashboard's runs list: filtered, or searched within the newest <paramref name="searchWindow"/>
    /// runs in scope (a LIKE '%q%' cannot use an index), with the matches per status.
    /// </summary>
    public static async Task<RunListData> ListPageAsync(IDbConnection c, IDbTransaction? tx, RunListQuery q, int searchWindow)
    {
        const string columns = "id AS RunId, profile, project_name, status, wait_reason AS WaitingFor, current_phase, iteration, cost_usd, created_at, version, cost_unknown";
        // Only the filters given appear in the SQL, so each query can use its (filter, created_at, id) index.
        var scope = new StringBuilder();
        if (q.Profile is not null)
        {
            scope.Append(" AND profile = @Profile");
        }
        if (q.Project is not null)
        {
            scope.Append(" AND project_name = @Project");
        }
        var status = q.Status is null ? "" : " AND status = @Status";
        var args = new DynamicParameters(new { q.Status, q.Profile, q.Project, q.Search, q.Limit, q.Offset });

        if (q.Search is null)
        {
            var rows = await c.QueryAsync<ListRow>($"SELECT {columns} FROM runs WHERE 1 = 1{status}{scope} ORDER BY created_at DESC, id DESC LIMIT @Limit OFFSET @Offset", args, tx);
            // The counts table keeps (profile, project, status) totals, so counts cost nothing at a million runs.
            var counts = (await c.QueryAsync<(string Status, long Count)>(
                $"SELECT status, COALESCE(SUM(count), 0) FROM run_counts WHERE 1 = 1{scope} GROUP BY status", args, tx))
                .Where(x => x.Count > 0).ToDictionary(x => x.Status, x => x.Count);
            return new RunListData(rows.Select(r => r.ToListRow()).ToList(), Total(counts, q.Status), counts, null);
        }

        // A whole run id (pasted from a log or the CLI) finds that run at once, however old.
        if (await c.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM runs WHERE id = @Search{scope}", args, tx) == 1)
        {
            var run = await c.QuerySingleAsync<ListRow>($"SELECT {columns} FROM runs WHERE id = @Search", args, tx);
            var counts = new Dictionary<string, long> { [run.Status] = 1 };
            var shown = q.Status is null || q.Status == run.Status ? [run.ToListRow()] : new List<RunListRow>();
            return new RunListData(q.Offset == 0 ? shown : [], Total(counts, q.Status), counts, null);
        }

        // Otherwise a substring of the id, profile or project name, within the newest searchWindow runs in scope.
        args.Add("Like", "%" + q.Search.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("%", @"\%", StringComparison.Ordinal).Replace("_", @"\_", StringComparison.Ordinal) + "%");
        args.Add("Window", searchWindow - 1);
        var edge = await c.QuerySingleOrDefaultAsync<(long CreatedAt, string Id)?>(
            $"SELECT created_at, id FROM runs WHERE 1 = 1{scope} ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET @Window", args, tx);
        var window = "";
        if (edge is { } e)
        {
            args.Add("EdgeAt", e.CreatedAt);
            args.Add("EdgeId", e.Id);
            window = " AND created_at >= @EdgeAt AND (created_at > @EdgeAt OR id >= @EdgeId)";
        }
        var like = SqlDialect.Of(c).LikeIgnoringCase;
        var match = $@" AND (id {like} @Like ESCAPE '\' OR profile {like} @Like ESCAPE '\' OR project_name {like} @Like ESCAPE '\')";
        // One pass over the window gives the counts and the page's ids; reading the window twice (a page query and a
        // count) doubled the cost of a search.
        var matches = (await c.QueryAsync<(string Id, string Status)>(
            $"SELECT id, status FROM runs WHERE 1 = 1{scope}{window}{match} ORDER BY created_at DESC, id DESC", args, tx)).ToList();
        var matched = matches.GroupBy(m => m.Status).ToDictionary(g => g.Key, g => (long)g.Count());
        var ids = matches.Where(m => q.Status is null || m.Status == q.Status).Skip(q.Offset).Take(q.Limit).Select(m => m.Id).ToList();
        var found = ids.Count == 0 ? [] : (await c.QueryAsync<ListRow>($"SELECT {columns} FROM runs WHERE {SqlDialect.Of(c).In("id", "@ids")}", new { ids }, tx)).ToDictionary(r => r.RunId);
        return new RunListData(ids.Select(id => found[id].ToListRow()).ToList(), Total(matched, q.Status), matched, edge is null ? null : searchWindow);
    }

    private static long Total(IReadOnlyDictionary<string, long> counts, string? status) =>
        status is null ? counts.Values.Sum() : counts.GetValueOrDefault(status);

    private sealed class ListRow
    {
        public string RunId { get; set; } = "";
        public string Profile { get; set; } = "";
        public string? ProjectName { get; set; }
        public string Status { get; set; } = "";
        public string? WaitingFor { get; set; }
        public string? CurrentPhase { get; set; }
        public int Iteration { get; set; }
        public double CostUsd { get; set; }
        public long CreatedAt { get; set; }
        public long Version { get; set; }

        public bool CostUnknown { get; set; }

        public RunListRow ToListRow() => new(RunId, Profile, ProjectName, Status, WaitingFor, CurrentPhase, Iteration, (decimal)CostUsd, Times.FromMs(CreatedAt), Version, CostUnknown);
    }

    /// <summary>A phase run as a run's detail shows it, read by hand in the order of <see cref="Columns"/> (<see cref="Read"/>).</summary>
    internal sealed class PhaseRunRow
    {
        public const string Columns =
            "phase, iteration, position, status, attempts, feedback, error, started_at, completed_at, gate_status, gate_actor, gate_comment, gate_decided_at, gate_deadline, validation_skipped_by";

        public string Phase { get; set; } = "";
        public int Iteration { get; set; }
        public int Position { get; set; }
        public string Status { get; set; } = "";
        public int Attempts { get; set; }
        public string? Feedback { get; set; }
        public string? Error { get; set; }
        public long? StartedAt { get; set; }
        public long? CompletedAt { get; set; }
        public string? GateStatus { get; set; }
        public string? GateActor { get; set; }
        public string? GateComment { get; set; }
        public long? GateDecidedAt { get; set; }
        public long? GateDeadline { get; set; }
        public string? ValidationSkippedBy { get; set; }

        public static PhaseRunRow Read(IDataRecord r) => new()
        {
            Phase = r.GetString(0),
            Iteration = r.GetInt32(1),
            Position = r.GetInt32(2),
            Status = r.GetString(3),
            Attempts = r.GetInt32(4),
            Feedback = r.GetNullableString(5),
            Error = r.GetNullableString(6),
            StartedAt = r.GetNullableInt64(7),
            CompletedAt = r.GetNullableInt64(8),
            GateStatus = r.GetNullableString(9),
            GateActor = r.GetNullableString(10),
            GateComment = r.GetNullableString(11),
            GateDecidedAt = r.GetNullableInt64(12),
            GateDeadline = r.GetNullableInt64(13),
            ValidationSkippedBy = r.GetNullableString(14),
        };
    }

    /// <summary>A run's phase runs, in the order its detail lists them.</summary>
    internal const string PhaseRunsOfRun = $"SELECT {PhaseRunRow.Columns} FROM phase_runs WHERE run_id = @runId ORDER BY iteration, position";

    /// <summary>The run as the API shows it; <paramref name="now"/> tells whether a node it is pinned to is gone (<see cref="Engine.NodeStore.WaitedFor"/>).</summary>
    public static async Task<RunDetail> DetailAsync(IDbConnection c, IDbTransaction? tx, RunRow run, Profile profile, DateTimeOffset now)
    {
        // One round trip on PostgreSQL: the phase runs, the intake, the tool approvals and, while the run may still
        // wait for one, the node it waits for, read as one batch.
        var waitsForNodes = !run.RunStatus.IsTerminal() && !SqlDialect.Of(c).SingleWriter;
        var rows = new List<PhaseRunRow>();
        var intake = "";
        var approvals = new List<ToolApprovalInfo>();
        string? waitingForNode = null;
        var parameters = new Dictionary<string, object?> { ["runId"] = run.Id };
        if (waitsForNodes)
        {
            parameters["goneBefore"] = Engine.NodeStore.GoneBefore(now);
        }
        await Rows.ReadEachAsync(c, tx, parameters,
            (PhaseRunsOfRun, r =>
            {
                while (r.Read())
                {
                    rows.Add(PhaseRunRow.Read(r));
                }
            }),
            (RunIntakes.OfRun, r => intake = r.Read() ? r.GetString(0) : ""),
            (ToolApprovals.ToolApprovalStore.OfRun, r =>
            {
                while (r.Read())
                {
                    approvals.Add(ToolApprovals.ToolApprovalRow.Read(r).ToInfo());
                }
            }),
            (waitsForNodes ? Engine.NodeStore.WaitedFor : null, r => waitingForNode = r.Read() ? r.GetNullableString(0) : null));
        var phases = rows.Select(p => new PhaseInfo(
            p.Phase, p.Status, p.Iteration, p.Attempts, Times.FromMs(p.StartedAt), Times.FromMs(p.CompletedAt),
            p.StartedAt is { } s && p.CompletedAt is { } e ? e - s : null,
            p.Error, p.Feedback, p.ValidationSkippedBy,
            p.GateStatus is null ? null : new Approval(p.GateStatus, p.GateActor, p.GateComment, Times.FromMs(p.GateDecidedAt), Times.FromMs(p.GateDeadline))))
            .ToList();
        // Phases not reached yet are shown as pending in the current iteration, so the list is the whole plan.
        if (!run.RunStatus.IsTerminal())
        {
            foreach (var phase in profile.Phases.Where(ph => rows.All(r => r.Phase != ph.Name)))
            {
                phases.Add(new PhaseInfo(phase.Name, "pending", run.Iteration, 0, null, null, null, null, null, null, null));
            }
        }
        var steps = rows.Where(r => r.StartedAt is not null)
            .GroupBy(r => r.Phase)
            .OrderBy(g => g.Min(r => r.StartedAt))
            .ToDictionary(g => g.Key, g => Times.FromMs(g.Min(r => r.StartedAt!.Value)));
        return new RunDetail(
            run.Id, run.Profile, run.ProjectName, run.Status, run.CurrentPhase, run.Iteration, run.Mode, run.WaitReason,
            Times.FromMs(run.CreatedAt), Times.FromMs(run.UpdatedAt), (decimal)run.CostUsd, run.TokensUsed,
            intake, run.Error, run.BudgetUsd is { } b ? (decimal)b : null, run.CreatedBy, Times.FromMs(run.CompletedAt),
            run.Version, phases, steps, waitingForNode, run.CostUnknown,
            approvals,
            ParentRunId: run.ParentRunId, ForkedAtPhase: run.ForkedAtPhase);
    }

    public static async Task<RunMetrics> MetricsAsync(IDbConnection c, IDbTransaction? tx, RunRow run, Profile profile)
    {
        var totals = await Engine.ExecutionStore.PhaseTotalsOfRunAsync(c, tx, run.Id);
        var phases = totals
            .OrderBy(t => profile.IndexOf(t.Phase))
            .Select(t => new PhaseMetrics(t.Phase, t.Iterations, t.Executions, t.TokensIn, t.TokensOut, (decimal)t.CostUsd,
                t.DurationMs, t.ToolCalls, t.TestsRun, t.TestsPassed, t.UnpricedExecutions > 0))
            .ToList();
        var decisions = await EventLog.DecisionsOfRunAsync(c, tx, run.Id);
        var end = run.CompletedAt ?? run.UpdatedAt;
        return new RunMetrics(
            run.Id,
            phases.Sum(p => p.TokensIn), phases.Sum(p => p.TokensOut), run.TokensUsed, (decimal)run.CostUsd,
            end - run.CreatedAt,
            phases.Sum(p => p.Executions), phases.Sum(p => p.ToolCalls), phases.Sum(p => p.TestsRun), phases.Sum(p => p.TestsPassed),
            run.Iteration, (int)decisions.Approvals, (int)decisions.Rejections, phases, run.CostUnknown);
    }
}
