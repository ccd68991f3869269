using System.CommandLine;
using System.Net;
using System.Text.Json;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>
/// A command that talks to a Baton server: --url/--token/--context (see <see cref="Connection"/>), and the API's
/// errors and network failures turned into one line and an exit code.
/// </summary>
public abstract class ClientCommand : BatonCommand
{
    /// <summary>Long enough for a slow query on a busy server, short enough that a hung one does not hang scripts.</summary>
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(60);

    private readonly Option<string> _url = new("--url")
    {
        Description = $"The Baton server [default: BATON_URL, else the current context's, else {Connection.DefaultUrl}]",
        HelpName = "url",
    };

    private readonly Option<string> _token = new("--token")
    {
        Description = "API key [default: BATON_TOKEN, else the current context's, else the admin key of a local `baton up`]",
        HelpName = "key",
    };

    private readonly Option<string> _context = new("--context")
    {
        Description = "A server saved with `baton context add` [default: BATON_CONTEXT, else the current context]",
        HelpName = "name",
    };

    protected ClientCommand(string name, string description, params string[] examples)
        : base(name, description, examples)
    {
        Options.Add(_url);
        Options.Add(_token);
        Options.Add(_context);
    }

    /// <summary>
    /// Moves --url/--token/--context after the options the command itself added (they are the same on every
    /// command, so --help should list what is particular to the command first). Called once the tree is built.
    /// </summary>
    public void PutConnectionOptionsLast()
    {
        foreach (var option in new Option[] { _url, _token, _context })
        {
            Options.Remove(option);
            Options.Add(option);
        }
    }

    /// <summary>Where this invocation connects; commands that run for long (`baton mcp`) resolve it once, up front.</summary>
    protected Connection ResolveConnection(ParseResult parseResult) =>
        Connection.Resolve(parseResult.GetValue(_url), parseResult.GetValue(_token), Environment.GetEnvironmentVariable, parseResult.GetValue(_context));

    /// <summary>
    /// What the `current_status` of a refusal (409) is the status of, for the "(the run is ...)" hint; null when the
    /// server's detail already says it (executions, workspaces), so the line does not call an execution a run.
    /// </summary>
    protected virtual string? ConflictSubject => "run";

    /// <summary>The API's answer or a network failure, worded as the one line a person needs.</summary>
    public static CliException Describe(Exception e, Connection connection, string? conflictSubject = "run") => e switch
    {
        BatonApiException api => new CliException(ApiMessage(api, connection, conflictSubject), ExitCodes.ForStatus(api.Status)),
        HttpRequestException { StatusCode: null } http => new CliException(Unreachable(connection, http)),
        TaskCanceledException { InnerException: TimeoutException } => new CliException($"Baton at {connection.DisplayUrl} did not answer within {RequestTimeout.TotalSeconds:0} s"),
        JsonException => new CliException($"the server at {connection.DisplayUrl} did not answer like a Baton server: check --url / BATON_URL"),
        _ => new CliException(e.Message),
    };

    private static string ApiMessage(BatonApiException e, Connection connection, string? conflictSubject)
    {
        var detail = e.Detail ?? e.Title;
        if (e.Status is HttpStatusCode.Unauthorized)
        {
            detail += $" ({connection.TokenSource})";
        }
        else if (e.CurrentStatus is { } current && current != "revoked" && conflictSubject is not null)
        {
            detail += $" (the {conflictSubject} is {current})";
        }
        else if (e.RetryAfter is { } wait)
        {
            detail += $" (try again in {Math.Ceiling(wait.TotalSeconds):0} s)";
        }
        return $"{e.Title} ({(int)e.Status}): {detail}";
    }

    protected abstract Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken);

    protected sealed override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var connection = ResolveConnection(parseResult);
        var client = connection.CreateClient(RequestTimeout);
        // Ctrl+C cancels the command rather than killing the process, so a spinner puts the cursor back and
        // `baton mcp` shuts down in order. (The root leaves Ctrl+C alone for the sake of `baton up`'s host.)
        using var interrupt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            interrupt.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            return await ExecuteAsync(parseResult, client, interrupt.Token);
        }
        catch (OperationCanceledException) when (interrupt.IsCancellationRequested)
        {
            return ExitCodes.Interrupted;
        }
        catch (Exception e) when (e is BatonApiException or HttpRequestException { StatusCode: null } or JsonException
            || (e is TaskCanceledException { InnerException: TimeoutException } && !interrupt.IsCancellationRequested))
        {
            throw Describe(e, connection, ConflictSubject);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
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
