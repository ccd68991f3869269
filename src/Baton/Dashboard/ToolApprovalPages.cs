using Baton.Auth;
using Baton.Client;
using Baton.Engine;
using Baton.Storage;
using Baton.ToolApprovals;
using Microsoft.AspNetCore.Antiforgery;

namespace Baton.Dashboard;

/// <summary>An approver's allow/deny of an agent's tool use, from the run's page (ADR 31).</summary>
public static class ToolApprovalPages
{
    public static void Map(RouteGroupBuilder pages) =>
        pages.MapPost("/runs/{id}/tool-approvals/{approvalId}", DecideAsync).RequireAuthorization(Roles.Approver);

    private static async Task<IResult> DecideAsync(
        string id, string approvalId, HttpContext http, IAntiforgery antiforgery, Database db, EngineSignals signals, TimeProvider time)
    {
        var (form, badForm) = await DashboardForms.ReadAsync(http, antiforgery);
        if (form is null)
        {
            return badForm!;
        }
        var status = form["decision"].ToString() switch
        {
            "allow" => ToolApprovalStatuses.Allowed,
            "deny" => ToolApprovalStatuses.Denied,
            _ => null,
        };
        var message = QueryText.Blank(form["message"]);
        if (status is null || message is { Length: > ToolApprovalsApi.MaxMessageChars })
        {
            return DashboardPages.Render<Components.MessagePage>(new
            {
                Heading = "Not decided",
                Message = status is null ? "Choose Allow or Deny." : $"The message is longer than {ToolApprovalsApi.MaxMessageChars} characters.",
            }, 400);
        }
        var (_, problem) = await ToolApprovalsApi.ApplyDecisionAsync(db, signals, time, id, approvalId, status, http.User.Actor(), message);
        return problem?.ProblemDetails switch
        {
            null => Results.Redirect(DashboardPages.RunUrl(id)),
            { Status: 404 } => DashboardPages.NotFound("Tool approval not found", problem.ProblemDetails.Detail ?? ""),
            var details => DashboardPages.Render<Components.MessagePage>(new { Heading = "Already decided", Message = details.Detail ?? "" }, 409),
        };
    }
}
