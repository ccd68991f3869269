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
    [InlineData(HttpStatusCode.RequestEntityTooLarge, ExitCodes.Failure)]
    [InlineData(HttpStatusCode.TooManyRequests, ExitCodes.Failure)]
    [InlineData(HttpStatusCode.InternalServerError, ExitCodes.Failure)]
    public void Api_statuses_map_to_the_documented_exit_codes(HttpStatusCode status, int exitCode) =>
        Assert.Equal(exitCode, ExitCodes.ForStatus(status));
}
