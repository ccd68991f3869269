using System.Security.Claims;
using Baton.Auth;
using Baton.Client;
using Baton.Profiles;
using Baton.Storage;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Baton.Runs;

/// <summary>
/// What waits for the caller (issue 13 item 4): the open gates and budget stops this key may decide now, oldest first.
/// A gate it already approved, or may not decide (not among `approvers`, or its own run under `self_approval: deny`),
/// is left out, and so is a gate whose remaining approvals must come from groups the key is not in: the same rules
/// the decider applies (<see cref="RunDecider.WhyNot"/>, <see cref="GateQuorum.WhyNotCounted"/>).
/// </summary>
public static class GateInbox
{
    /// <summary>The most runs waiting for a decision that one inbox looks through.</summary>
    public const int MaxScanned = 1_000;

    public static IEndpointRouteBuilder MapInboxApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/inbox", async Task<Ok<Inbox>> (ClaimsPrincipal user, Database db, RunTransitions transitions, TimeProvider time, CancellationToken ct) =>
            TypedResults.Ok(await ForAsync(db, transitions, user.Decider(), time.GetUtcNow(), ct))).WithTags("Runs").RequireAuthorization(Roles.Viewer);
        return app;
    }

    private sealed class WaitingRow
    {
        public string Id { get; set; } = "";
        public string Profile { get; set; } = "";
        public string ProfileHash { get; set; } = "";
        public string? ProjectName { get; set; }
        public string CurrentPhase { get; set; } = "";
        public int Iteration { get; set; }
        public string? WaitReason { get; set; }
        public string? CreatedBy { get; set; }
        public string? CreatedByKey { get; set; }
        public long UpdatedAt { get; set; }
        public long? GateDeadline { get; set; }
    }

    public static async Task<Inbox> ForAsync(Database db, RunTransitions transitions, GateDecider by, DateTimeOffset now, CancellationToken ct = default)
    {
        if (Roles.Rank(by.Role) < Roles.Rank(Roles.Approver))
        {
            // Deciding anything needs the approver role: a viewer's or an operator's inbox is empty.
            return new Inbox([], 0);
        }
        return await db.ReadAsync(async c =>
        {
            var waiting = (await c.QueryAsync<WaitingRow>(
                $"""
                SELECT r.id, r.profile, r.profile_hash, r.project_name, r.current_phase, r.iteration, r.wait_reason,
                       r.created_by, r.created_by_key, r.updated_at, p.gate_deadline
                FROM runs r LEFT JOIN phase_runs p ON p.run_id = r.id AND p.phase = r.current_phase AND p.iteration = r.iteration
                WHERE r.status = 'awaiting_approval'
                ORDER BY r.created_at, r.id
                LIMIT {MaxScanned}
                """)).ToList();
            var votes = (await c.QueryAsync<(string RunId, string Decider, string? Groups)>(
                """
                SELECT d.run_id, d.decider, d.groups FROM gate_decisions d
                JOIN runs r ON r.id = d.run_id AND r.current_phase = d.phase AND r.iteration = d.iteration
                WHERE r.status = 'awaiting_approval' AND d.decision = 'approved'
                """)).ToLookup(v => v.RunId, v => (v.Decider, Groups: GateStore.GroupsOf(v.Groups)));
            var items = new List<InboxItem>();
            foreach (var run in waiting)
            {
                var item = run.WaitReason == Baton.Runs.WaitReason.Budget.Wire()
                    ? Item(run, "budget", Times.FromMs(run.UpdatedAt), null, 0, 1)
                    : await GateItemAsync(c, transitions, run, by, votes[run.Id].ToList());
                if (item is not null)
                {
                    items.Add(item with { AgeSeconds = (long)Math.Max(0, (now - item.OpenedAt).TotalSeconds) });
                }
            }
            var ordered = items.OrderBy(i => i.OpenedAt).ThenBy(i => i.RunId, StringComparer.Ordinal).ToList();
            return new Inbox(ordered, ordered.Count);
        }, ct);
    }

    private static async Task<InboxItem?> GateItemAsync(
        System.Data.IDbConnection c, RunTransitions transitions, WaitingRow run, GateDecider by, List<(string Decider, IReadOnlyList<string> Groups)> approvedBy)
    {
        var profile = await transitions.ProfileOfAsync(c, null, new RunRow { Id = run.Id, ProfileHash = run.ProfileHash });
        var gate = profile.Phase(run.CurrentPhase)?.Gate ?? new GateDefinition(GateDefinition.DefaultTimeout, GateTimeoutAction.Expire, [run.CurrentPhase]);
        // A key whose approval could not count (the places left are the required groups', and it is in none of them)
        // has nothing to do here: the gate waits for someone else, as after the key's own approval (ADR 39).
        if (approvedBy.Any(a => a.Decider == by.KeyId)
            || RunDecider.WhyNot(gate, by, run.CreatedByKey, "decide") is not null
            || GateQuorum.WhyNotCounted(gate, approvedBy.Select(a => a.Groups).ToList(), by.Name, by.Groups) is not null)
        {
            return null;
        }
        var deadline = Times.FromMs(run.GateDeadline);
        var missing = gate.RequiredGroups.Count == 0 ? null : GateQuorum.MissingGroups(gate.RequiredGroups, [.. approvedBy.Select(a => a.Groups)]);
        return Item(run, "gate", deadline is { } d ? d - gate.Timeout : Times.FromMs(run.UpdatedAt), deadline, approvedBy.Count, gate.Approvals, missing);
    }

    private static InboxItem Item(WaitingRow run, string kind, DateTimeOffset openedAt, DateTimeOffset? expiresAt, int approvals, int required,
        IReadOnlyDictionary<string, int>? missingGroups = null) =>
        new(run.Id, run.Profile, run.ProjectName, kind, run.CurrentPhase, run.Iteration, openedAt, expiresAt, 0, approvals, required, run.CreatedBy, missingGroups);
}
