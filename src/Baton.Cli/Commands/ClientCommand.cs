using System.CommandLine;
using System.Net;
using System.Text.Json;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>
/// A command that talks to a Baton server: --url/--token (see <see cref="Connection"/>), and the API's errors
/// and network failures turned into one line and an exit code.
/// </summary>
public abstract class ClientCommand : BatonCommand
{
    /// <summary>Long enough for a slow query on a busy server, short enough that a hung one does not hang scripts.</summary>
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(60);

    private readonly Option<string> _url = new("--url")
    {
        Description = $"The Baton server [default: BATON_URL, else {Connection.DefaultUrl}]",
        HelpName = "url",
    };

    private readonly Option<string> _token = new("--token")
    {
        Description = "API key [default: BATON_TOKEN, else the admin key of a local `baton up`]",
        HelpName = "key",
    };

    protected ClientCommand(string name, string description, params string[] examples)
        : base(name, description, examples)
    {
        Options.Add(_url);
        Options.Add(_token);
    }

    protected abstract Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken);

    protected sealed override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var connection = Connection.Resolve(parseResult.GetValue(_url), parseResult.GetValue(_token), Environment.GetEnvironmentVariable);
        var client = connection.CreateClient(RequestTimeout);
        try
        {
            return await ExecuteAsync(parseResult, client, cancellationToken);
        }
        catch (BatonApiException e)
        {
            var detail = e.Detail ?? e.Title;
            if (e.Status is HttpStatusCode.Unauthorized)
            {
                detail += $" ({connection.TokenSource})";
            }
            else if (e.CurrentStatus is { } current)
            {
                detail += $" (the run is {current})";
            }
            throw new CliException($"{e.Title} ({(int)e.Status}): {detail}", ExitCodes.ForStatus(e.Status));
        }
        catch (HttpRequestException e) when (e.StatusCode is null)
        {
            throw new CliException(Unreachable(connection, e));
        }
        catch (TaskCanceledException e) when (e.InnerException is TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            throw new CliException($"Baton at {connection.DisplayUrl} did not answer within {RequestTimeout.TotalSeconds:0} s");
        }
        catch (JsonException)
        {
            throw new CliException($"the server at {connection.DisplayUrl} did not answer like a Baton server: check --url / BATON_URL");
        }
        finally
        {
            client.Http.Dispose();
        }
    }

    private static string Unreachable(Connection connection, HttpRequestException e)
    {
        var at = $"cannot reach Baton at {connection.DisplayUrl}";
        return e.HttpRequestError switch
        {
            HttpRequestError.ConnectionError when connection.Url.IsLoopback => $"{at}: is `baton up` running?",
            HttpRequestError.ConnectionError => $"{at}: is the server running, and the URL right?",
            HttpRequestError.NameResolutionError => $"{at}: unknown host '{connection.Url.Host}'",
            _ => $"{at}: {e.Message}",
        };
    }
}
