using System.Net;

namespace Baton.Cli.Tests;

public sealed class ExitCodesTests
{
    [Theory]
    [InlineData(HttpStatusCode.BadRequest, ExitCodes.Usage)]
    [InlineData(HttpStatusCode.Unauthorized, ExitCodes.Auth)]
    [InlineData(HttpStatusCode.Forbidden, ExitCodes.Auth)]
    [InlineData(HttpStatusCode.NotFound, ExitCodes.NotFound)]
    [InlineData(HttpStatusCode.Conflict, ExitCodes.Conflict)]
    [InlineData(HttpStatusCode.RequestEntityTooLarge, ExitCodes.Usage)]
    [InlineData(HttpStatusCode.TooManyRequests, ExitCodes.Failure)]
    [InlineData(HttpStatusCode.InternalServerError, ExitCodes.Failure)]
    public void Api_statuses_map_to_the_documented_exit_codes(HttpStatusCode status, int exitCode) =>
        Assert.Equal(exitCode, ExitCodes.ForStatus(status));

    [Theory]
    [InlineData("completed", ExitCodes.Ok)]
    [InlineData("awaiting_approval", ExitCodes.AwaitingApproval)]
    [InlineData("paused", ExitCodes.Paused)]
    [InlineData("failed", ExitCodes.RunUnsuccessful)]
    [InlineData("cancelled", ExitCodes.RunUnsuccessful)]
    [InlineData("expired", ExitCodes.RunUnsuccessful)]
    [InlineData("running", null)]
    [InlineData("pending", null)]
    public void A_watched_run_exits_by_how_it_stopped(string status, int? exitCode) =>
        Assert.Equal(exitCode, ExitCodes.ForRun(status));
}
