using Baton.Auth;
using Baton.Client;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Baton.Profiles;

public static class ProfilesApi
{
    public static IEndpointRouteBuilder MapProfilesApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/profiles").WithTags("Profiles").RequireAuthorization(Roles.Viewer);
        group.MapGet("/", List);
        group.MapGet("/{name}", Get);
        return app;
    }

    public static Ok<ProfileList> List(ProfileCatalog catalog)
    {
        var set = catalog.Current();
        return TypedResults.Ok(new ProfileList(
            set.Profiles.Select(p => new ProfileSummary(p.Profile.Name, p.Profile.Description, p.Origin, p.Profile.Mode.ToString().ToLowerInvariant(),
                p.Profile.MaxIterations, p.Profile.BudgetUsd, p.Profile.Phases.Select(ph => ph.Name).ToList())).ToList(),
            set.Errors.Select(e => new ProfileProblem(e.File, e.Line, e.Message, e.Column)).ToList()));
    }

    public static Results<Ok<ProfileDetail>, ProblemHttpResult> Get(string name, ProfileCatalog catalog)
    {
        if (catalog.Current().Find(name) is not { } loaded)
        {
            return Problems.NotFound("profile", name);
        }
        var p = loaded.Profile;
        return TypedResults.Ok(new ProfileDetail(
            p.Name, p.Description, loaded.Origin, p.Mode.ToString().ToLowerInvariant(), p.MaxIterations, p.BudgetUsd,
            p.Phases.Select(ph => new PhaseDefinitionInfo(
                ph.Name, ph.Worker, ph.Prompt, ph.Produces,
                ph.Checks.Select(c => new CheckInfo(c.Artifact, c.Contains)).ToList(),
                ph.Gate is { } g ? new GateInfo(Durations.Format(g.Timeout), g.OnTimeout.ToString().ToLowerInvariant(), g.RejectTo,
                    g.Approvals, g.Approvers, g.RequiredGroups, g.SelfApproval ? "allow" : "deny",
                    g.RemindAfter is { } remind ? Durations.Format(remind) : null, Runs.GateForms.Describe(g.Inputs)) : null,
                ph.RetryFrom, Durations.Format(ph.Timeout), ph.MaxAttempts)).ToList(),
            loaded.Source));
    }
}
