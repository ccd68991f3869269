using System.Globalization;
using System.Text;
using System.Text.Json;
using Baton.Auth;
using Baton.Client;
using Baton.Engine;
using Baton.Profiles;
using Baton.Runs;
using Baton.Storage;
using Dapper;
using Markdig;
using Markdig.Renderers;
using Microsoft.AspNetCore.Antiforgery;

namespace Baton.Dashboard;

/// <summary>The runs list, a run's page, an artifact's page, and the decisions posted from a run's page.</summary>
public static class RunPages
{
    private const int MaxTextLength = 64 * 1024;
    private const int RecentEvents = 50;
    private const int LogLines = 100;

    // ---- run detail ----

    public static async Task<IResult> DetailAsync(string id, HttpContext http, Database db, RunTransitions transitions, TimeProvider time) =>
        await RenderDetailAsync(id, http, db, transitions, time, null, 200);

    private static async Task<IResult> RenderDetailAsync(string id, HttpContext http, Database db, RunTransitions transitions, TimeProvider time, FormState? form, int status)
    {
        var loaded = await db.ReadAsync(async c =>
        {
            var run = await RunTransitions.LoadRunAsync(c, null, id);
            if (run is null)
            {
                return null;
            }
            var profile = await transitions.ProfileOfAsync(c, null, run);
            var lastEvent = await c.ExecuteScalarAsync<long>("SELECT COALESCE(MAX(seq), 0) FROM events WHERE run_id = @id", new { id });
            var events = (await c.QueryAsync<RunReads.EventRow>(
                "SELECT * FROM events WHERE run_id = @id AND type <> 'log' ORDER BY seq DESC LIMIT @RecentEvents", new { id, RecentEvents })).ToList();
            return new LoadedRun(await RunReads.DetailAsync(c, run, profile), await RunReads.ArtifactsAsync(c, run, profile), profile, lastEvent, events,
                await RunReads.MetricsAsync(c, run, profile), await RunReads.LogsAsync(c, id, LogLines, after: 0));
        });
        if (loaded is null)
        {
            return DashboardPages.NotFound("Run not found", $"There is no run '{id}'.");
        }
        var (run, artifacts, profileDef, lastEvent, events, metrics, logs) = loaded;
        var logText = string.Join("\n", logs.Lines.Select(l =>
            $"{l.Timestamp.UtcDateTime.ToString("HH:mm:ss", CultureInfo.InvariantCulture)} {l.Level,-5} {(l.Phase is null ? "" : $"[{l.Phase}#{l.Iteration}] ")}{l.Message}"));
        var eventRows = events.Select(e => Html.Of($"""
            <tr><td>{DashboardPages.Time(Times.FromMs(e.CreatedAt))}</td><td><code>{e.Type}</code></td><td>{e.Phase ?? ""}{Html.When(e.Iteration is not null && e.Phase is not null, Html.Of($" #{e.Iteration}"))}</td><td>{e.Actor ?? ""}</td><td class="small">{e.Data ?? ""}</td></tr>
            """));
        var ended = run.CompletedAt ?? (StateNames.Parse<RunStatus>(run.Status).IsTerminal() ? run.UpdatedAt : time.GetUtcNow());
        var phases = run.Phases.Select(p => Html.Of($"""
            <tr>
              <td>{p.Name}</td>
              <td class="num">{p.Iteration}</td>
              <td>{DashboardPages.Status(p.Status)}{Html.When(p.Error is not null, Html.Of($"""<div class="muted small">{p.Error}</div>"""))}{Html.When(p.Feedback is not null, Html.Of($"""<div class="small">Feedback: {p.Feedback}</div>"""))}</td>
              <td>{DashboardPages.Time(p.StartedAt)}</td>
              <td>{DashboardPages.Time(p.CompletedAt)}</td>
              <td>{(p.Approval is { } a ? Html.Of($"""{a.Status}{Html.When(a.Actor is not null, Html.Of($" by {a.Actor}"))}{Html.When(!string.IsNullOrEmpty(a.Comment), Html.Of($"""<div class="small">“{a.Comment}”</div>"""))}""") : Markup.Empty)}</td>
            </tr>
            """));
        var artifactList = artifacts.Phases.Count == 0
            ? Html.Raw("""<p class="muted">No artifacts yet.</p>""")
            : Html.Of($"""<ul class="artifacts">{artifacts.Phases.SelectMany(g => g.Artifacts).Select(a => Html.Of($"""
                <li><a href="/runs/{Html.Url(run.RunId)}/artifacts/{Html.Url(a.Name)}?iteration={a.Iteration}">{a.Name}</a>
                  <span class="muted">{a.Phase} · iteration {a.Iteration} · {a.Size} bytes</span></li>
                """))}</ul>""");
        var body = Html.Of($"""
            <p class="crumbs"><a href="/">Runs</a> / <code>{run.RunId}</code></p>
            <h1>{run.ProjectName ?? run.Profile} <span class="muted">{run.RunId}</span></h1>
            {Html.When(form is not null, Html.Of($"""<p class="notice error" role="alert" id="form-message">{form?.Message}</p>"""))}
            <div id="live" data-run="{run.RunId}" data-last-event="{lastEvent}" data-status="{run.Status}">
            <section aria-label="Status">
              <dl class="facts">
                <div><dt>Status</dt><dd>{DashboardPages.Status(run.Status)}{Html.When(run.WaitingFor is not null, Html.Of($""" <span class="muted">waiting for {run.WaitingFor}</span>"""))}</dd></div>
                <div><dt>Current phase</dt><dd>{run.CurrentPhase ?? "—"}</dd></div>
                <div><dt>Iteration</dt><dd>{run.Iteration}</dd></div>
                <div><dt>Cost</dt><dd>{DashboardPages.Cost(run.CostUsd)}{Html.When(run.BudgetUsd is not null, Html.Of($" of {DashboardPages.Cost(run.BudgetUsd ?? 0)}"))}</dd></div>
                <div><dt>Tokens</dt><dd>{run.TokensUsed.ToString("N0", CultureInfo.InvariantCulture)}</dd></div>
                <div><dt>Duration</dt><dd>{DashboardPages.Duration(ended - run.CreatedAt)}</dd></div>
                <div><dt>Profile</dt><dd>{run.Profile} <span class="muted">({run.Mode})</span></dd></div>
                <div><dt>Created</dt><dd>{DashboardPages.Time(run.CreatedAt)}{Html.When(run.CreatedBy is not null, Html.Of($" by {run.CreatedBy}"))}</dd></div>
              </dl>
              {Html.When(run.Error is not null, Html.Of($"""<p class="notice error">{run.Error}</p>"""))}
            </section>
            {Actions(http, run, profileDef, form)}
            <section aria-labelledby="phases-h">
              <h2 id="phases-h">Phases</h2>
              <table class="phases">
                <thead><tr><th scope="col">Phase</th><th scope="col" class="num">Iteration</th><th scope="col">Status</th><th scope="col">Started (UTC)</th><th scope="col">Completed (UTC)</th><th scope="col">Approval</th></tr></thead>
                <tbody>{phases}</tbody>
              </table>
            </section>
            <section aria-labelledby="artifacts-h">
              <h2 id="artifacts-h">Artifacts</h2>
              {artifactList}
            </section>
            {MetricsSection(metrics)}
            <section aria-labelledby="log-h">
              <h2 id="log-h">Log</h2>
              {(logs.Lines.Count == 0 ? Html.Raw("""<p class="muted">No log lines yet.</p>""") : Html.Of($"""<pre class="log">{logText}</pre><p class="small muted">The last {LogLines} lines; <code>baton run logs {run.RunId} --follow</code> follows it.</p>"""))}
            </section>
            <section aria-labelledby="events-h">
              <h2 id="events-h">Recent events</h2>
              <table class="events">
                <thead><tr><th scope="col">At (UTC)</th><th scope="col">Event</th><th scope="col">Phase</th><th scope="col">Actor</th><th scope="col">Data</th></tr></thead>
                <tbody>{eventRows}</tbody>
              </table>
              <p class="small muted">The newest {RecentEvents}; <code>GET /api/runs/{run.RunId}/events</code> replays them all.</p>
            </section>
            </div>
            <section aria-labelledby="intake-h">
              <h2 id="intake-h">Intake</h2>
              <pre class="intake">{run.Intake}</pre>
            </section>
            """);
        return DashboardPages.Page(DashboardPages.Layout(http, run.RunId, body, Html.Raw("""<script src="/dashboard/live.js" defer></script>""")), status);
    }

    /// <summary>Per phase: the numbers as a table, and duration and cost as bars (SVG, so the CSP needs no inline styles).</summary>
    private static Markup MetricsSection(RunMetrics metrics)
    {
        if (metrics.Phases.Count == 0)
        {
            return Markup.Empty;
        }
        var longest = Math.Max(1, metrics.Phases.Max(p => p.DurationMs));
        var dearest = Math.Max(0.000001m, metrics.Phases.Max(p => p.CostUsd));
        const int width = 160;
        Markup Bar(double fraction, string label) => Html.Of($"""
            <svg class="bar" width="{width}" height="12" viewBox="0 0 {width} 12" role="img" aria-label="{label}"><rect width="{Math.Max(1, (int)Math.Round(fraction * width))}" height="12" rx="2"></rect></svg>
            """);
        var rows = metrics.Phases.Select(p => Html.Of($"""
            <tr>
              <td>{p.Phase}</td>
              <td class="num">{p.Executions}</td>
              <td class="num">{(p.TokensIn + p.TokensOut).ToString("N0", CultureInfo.InvariantCulture)}</td>
              <td class="num">{DashboardPages.Cost(p.CostUsd)}</td>
              <td>{Bar((double)(p.CostUsd / dearest), $"cost {DashboardPages.Cost(p.CostUsd)}")}</td>
              <td class="num">{DashboardPages.Duration(TimeSpan.FromMilliseconds(p.DurationMs))}</td>
              <td>{Bar((double)p.DurationMs / longest, $"duration {DashboardPages.Duration(TimeSpan.FromMilliseconds(p.DurationMs))}")}</td>
              <td class="num">{(p.TestsRun == 0 ? "—" : $"{p.TestsPassed}/{p.TestsRun}")}</td>
            </tr>
            """));
        return Html.Of($"""
            <section aria-labelledby="metrics-h">
              <h2 id="metrics-h">Cost and duration per phase</h2>
              <table class="metrics">
                <thead><tr><th scope="col">Phase</th><th scope="col" class="num">Executions</th><th scope="col" class="num">Tokens</th><th scope="col" class="num">Cost</th><th scope="col"><span class="visually-hidden">Cost bar</span></th><th scope="col" class="num">Duration</th><th scope="col"><span class="visually-hidden">Duration bar</span></th><th scope="col" class="num">Tests passed</th></tr></thead>
                <tbody>{rows}</tbody>
              </table>
              <p class="small muted">{metrics.Executions} executions, {metrics.Approvals} approvals, {metrics.Rejections} rejections.</p>
            </section>
            """);
    }

    private sealed record LoadedRun(RunDetail Run, ArtifactManifest Artifacts, Profile Profile, long LastEvent, IReadOnlyList<RunReads.EventRow> Events, RunMetrics Metrics, Client.RunLogs Logs);

    /// <summary>Only the decisions this key's role may make and the run's state allows; each names the version it was made on.</summary>
    private static Markup Actions(HttpContext http, RunDetail run, Profile profile, FormState? form)
    {
        var user = http.User;
        var state = StateNames.Parse<RunStatus>(run.Status);
        var forms = new List<Markup>();
        Markup Start(string action, string label) => Html.Of($"""
            <form method="post" action="/runs/{Html.Url(run.RunId)}/{action}" class="action action-{action}" aria-label="{label}">
              {DashboardPages.Csrf(http)}<input type="hidden" name="version" value="{run.Version}">
            """);
        if (state == RunStatus.AwaitingApproval && user.May(Roles.Approver))
        {
            forms.Add(Html.Of($"""
                {Start("approve", "Approve")}
                  <h3>Approve</h3>
                  <label for="approve-comment">Comment (optional)</label>
                  <textarea id="approve-comment" name="comment" rows="2">{form?.Value("approve", "comment") ?? ""}</textarea>
                  <button type="submit">Approve</button>
                </form>
                """));
            if (run.WaitingFor == "gate" && run.CurrentPhase is not null)
            {
                var allowed = profile.Phase(run.CurrentPhase)?.Gate?.RejectTo ?? [run.CurrentPhase];
                var chosen = form?.Value("reject", "reject_to");
                var targets = allowed.Select(t => Html.Of($"""<option value="{t}" {Html.When(t == chosen, Html.Raw("selected"))}>{t}</option>"""));
                var invalid = form?.Action == "reject";
                forms.Add(Html.Of($"""
                    {Start("reject", "Reject")}
                      <h3>Reject</h3>
                      <label for="reject-feedback">Feedback (required)</label>
                      <textarea id="reject-feedback" name="feedback" rows="3" {Html.When(invalid, Html.Raw("aria-invalid=\"true\" aria-describedby=\"form-message\""))}>{form?.Value("reject", "feedback") ?? ""}</textarea>
                      <label for="reject-to">Send back to</label>
                      <select id="reject-to" name="reject_to">{targets}</select>
                      <button type="submit" class="danger">Reject</button>
                    </form>
                    """));
            }
        }
        if (state == RunStatus.Paused && user.May(Roles.Operator))
        {
            forms.Add(Html.Of($"""
                {Start("next", "Next phase")}
                  <h3>Next phase</h3>
                  {Html.When(user.May(Roles.Approver), Html.Raw("""<label class="check"><input type="checkbox" name="skip_validation" value="true"> Skip validation (accept failed checks)</label>"""))}
                  <button type="submit">Next</button>
                </form>
                """));
        }
        if (state == RunStatus.Failed && user.May(Roles.Operator))
        {
            forms.Add(Html.Of($"""
                {Start("retry", "Retry")}
                  <h3>Retry</h3>
                  <p class="small">Runs the failed phase again.</p>
                  <button type="submit">Retry</button>
                </form>
                """));
        }
        if (!state.IsTerminal() && user.May(Roles.Operator))
        {
            forms.Add(Html.Of($"""
                {Start("cancel", "Cancel run")}
                  <h3>Cancel</h3>
                  <label for="cancel-reason">Reason (optional)</label>
                  <input id="cancel-reason" name="reason" value="{form?.Value("cancel", "reason") ?? ""}">
                  <button type="submit" class="danger">Cancel run</button>
                </form>
                """));
        }
        return forms.Count == 0 ? Markup.Empty : Html.Of($"""
            <section aria-labelledby="actions-h" class="actions">
              <h2 id="actions-h">Decide</h2>
              <div class="action-forms">{forms}</div>
            </section>
            """);
    }

    // ---- decisions ----

    public static Task<IResult> ApproveAsync(string id, HttpContext http, IAntiforgery antiforgery, Database db, RunTransitions transitions, TimeProvider time) =>
        DecideAsync("approve", id, http, antiforgery, db, transitions, time, (form, actor) =>
        {
            var comment = Blank(form["comment"]);
            return comment is { Length: > MaxTextLength } ? "The comment is too long." : new ApproveRun(actor, comment);
        });

    public static Task<IResult> RejectAsync(string id, HttpContext http, IAntiforgery antiforgery, Database db, RunTransitions transitions, TimeProvider time) =>
        DecideAsync("reject", id, http, antiforgery, db, transitions, time, (form, actor) =>
        {
            var feedback = Blank(form["feedback"]);
            return feedback is null ? "Feedback is required to reject: tell the agent what to change."
                : feedback.Length > MaxTextLength ? "The feedback is too long."
                : new RejectRun(actor, feedback, Blank(form["reject_to"]));
        });

    public static Task<IResult> NextAsync(string id, HttpContext http, IAntiforgery antiforgery, Database db, RunTransitions transitions, TimeProvider time) =>
        DecideAsync("next", id, http, antiforgery, db, transitions, time, (form, actor) =>
        {
            var skip = form["skip_validation"] == "true";
            return skip && !http.User.Has(Roles.Approver) ? "Skipping validation needs the approver role." : new NextPhase(actor, skip);
        });

    public static Task<IResult> CancelAsync(string id, HttpContext http, IAntiforgery antiforgery, Database db, RunTransitions transitions, TimeProvider time, RunningExecutions running) =>
        DecideAsync("cancel", id, http, antiforgery, db, transitions, time, (form, actor) =>
        {
            var reason = Blank(form["reason"]);
            return reason is { Length: > MaxTextLength } ? "The reason is too long." : new CancelRun(actor, reason);
        }, () => running.StopAsync(id, TimeSpan.FromSeconds(10)));

    public static Task<IResult> RetryAsync(string id, HttpContext http, IAntiforgery antiforgery, Database db, RunTransitions transitions, TimeProvider time) =>
        DecideAsync("retry", id, http, antiforgery, db, transitions, time, (_, actor) => new RetryRun(actor));

    /// <summary>
    /// Validates the form, applies the trigger on the version the person looked at (a stale page is a 409, like If-Match),
    /// and redirects back to the run. A problem re-renders the run's page with the message and the input kept.
    /// </summary>
    private static async Task<IResult> DecideAsync(
        string action, string id, HttpContext http, IAntiforgery antiforgery, Database db, RunTransitions transitions, TimeProvider time,
        Func<IFormCollection, string, OneOf> read, Func<Task>? afterApplied = null)
    {
        if (!await antiforgery.IsRequestValidAsync(http))
        {
            return DashboardApi.BadForm(http);
        }
        var form = await http.Request.ReadFormAsync();
        var values = form.ToDictionary(f => f.Key, f => f.Value.ToString());
        FormState Problem(string message) => new(action, message, values);
        long? version = long.TryParse(form["version"], NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : null;
        if (version is null)
        {
            return await RenderDetailAsync(id, http, db, transitions, time, Problem("The form did not say which version of the run it was made on; reload the page."), 400);
        }
        var input = read(form, http.User.Actor());
        if (input.Error is { } error)
        {
            return await RenderDetailAsync(id, http, db, transitions, time, Problem(error), 400);
        }
        var outcome = await transitions.ApplyAsync(id, input.Trigger!, version);
        switch (outcome)
        {
            case { Run: null }:
                return DashboardPages.NotFound("Run not found", $"There is no run '{id}'.");
            case { Decision: Refused, Run: { } current }:
                return await RenderDetailAsync(id, http, db, transitions, time,
                    Problem($"The run changed: it is now {current.Status.Replace('_', ' ')}. Check the page and decide again."), 409);
            case { Decision: Invalid invalid }:
                return await RenderDetailAsync(id, http, db, transitions, time, Problem(invalid.Message), 400);
        }
        if (afterApplied is not null && outcome.Decision is Transition)
        {
            await afterApplied();
        }
        return Results.Redirect($"/runs/{Html.Url(id)}");
    }

    /// <summary>Either a trigger or a message saying what is wrong with the input.</summary>
    private readonly record struct OneOf(RunTrigger? Trigger, string? Error)
    {
        public static implicit operator OneOf(RunTrigger trigger) => new(trigger, null);

        public static implicit operator OneOf(string error) => new(null, error);
    }

    // ---- artifacts ----

    private static readonly MarkdownPipeline Markdown = new MarkdownPipelineBuilder().UseAdvancedExtensions().DisableHtml().Build();

    public static async Task<IResult> ArtifactAsync(string id, string name, string? iteration, HttpContext http, Database db)
    {
        int? wanted = int.TryParse(iteration, NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? i : null;
        var found = await db.ReadAsync<(Artifacts.ArtifactRow Row, byte[] Content)?>(async c =>
        {
            var row = await c.QuerySingleOrDefaultAsync<Artifacts.ArtifactRow>(
                wanted is null
                    ? "SELECT * FROM artifacts WHERE run_id = @id AND name = @name ORDER BY iteration DESC LIMIT 1"
                    : "SELECT * FROM artifacts WHERE run_id = @id AND name = @name AND iteration = @wanted",
                new { id, name, wanted });
            return row is null ? null : (row, await c.QuerySingleAsync<byte[]>("SELECT content FROM blobs WHERE sha256 = @Sha256", row));
        });
        if (found is not { } hit)
        {
            return DashboardPages.NotFound("Artifact not found", $"Run '{id}' has no artifact '{name}'{(wanted is null ? "" : $" in iteration {wanted}")}.");
        }
        var (artifact, content) = hit;
        return DashboardPages.Page(DashboardPages.Layout(http, name, Html.Of($"""
            <p class="crumbs"><a href="/">Runs</a> / <a href="/runs/{Html.Url(id)}"><code>{id}</code></a> / {name}</p>
            <h1>{name}</h1>
            <p class="muted">{artifact.Phase} · iteration {artifact.Iteration} · {artifact.MediaType} · {artifact.Size} bytes · sha256 <code>{artifact.Sha256[..12]}</code></p>
            <article class="artifact">{Render(artifact.Name, artifact.MediaType, content)}</article>
            """)));
    }

    /// <summary>Markdown without raw HTML and with only safe link schemes; JSON indented; other text as it is.</summary>
    public static Markup Render(string name, string mediaType, byte[] content)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, true).GetString(content);
        }
        catch (DecoderFallbackException)
        {
            return Html.Of($"""<p class="muted">Binary content ({content.Length} bytes); fetch it with <code>baton run artifacts</code>.</p>""");
        }
        if (mediaType.StartsWith("text/markdown", StringComparison.Ordinal) || name.EndsWith(".md", StringComparison.OrdinalIgnoreCase))
        {
            using var writer = new StringWriter(CultureInfo.InvariantCulture);
            var renderer = new HtmlRenderer(writer) { LinkRewriter = SafeUrl };
            Markdown.Setup(renderer);
            renderer.Render(Markdig.Markdown.Parse(text, Markdown));
            writer.Flush();
            return Html.Raw($"""<div class="markdown">{writer}</div>""");
        }
        if (mediaType.Contains("json", StringComparison.Ordinal) || name.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                using var doc = JsonDocument.Parse(text);
                text = JsonSerializer.Serialize(doc.RootElement, new JsonSerializerOptions { WriteIndented = true });
            }
            catch (JsonException)
            {
                // Not valid JSON after all: shown as it is.
            }
        }
        return Html.Of($"""<pre>{text}</pre>""");
    }

    private static string SafeUrl(string url)
    {
        var trimmed = url.Trim();
        if (trimmed.StartsWith('#') || trimmed.StartsWith('/') || trimmed.StartsWith("./", StringComparison.Ordinal) || trimmed.StartsWith("../", StringComparison.Ordinal))
        {
            return trimmed.StartsWith("//", StringComparison.Ordinal) ? "#" : trimmed;
        }
        if (Uri.TryCreate(trimmed, UriKind.Absolute, out var uri))
        {
            return uri.Scheme is "http" or "https" or "mailto" ? trimmed : "#";
        }
        // Relative without a scheme (a colon before any slash would be a scheme).
        var colon = trimmed.IndexOf(':', StringComparison.Ordinal);
        var slash = trimmed.IndexOf('/', StringComparison.Ordinal);
        return colon < 0 || (slash >= 0 && slash < colon) ? trimmed : "#";
    }

    private static string? Blank(string? text) => string.IsNullOrWhiteSpace(text) ? null : text;
}
