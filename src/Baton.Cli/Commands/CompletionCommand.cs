using System.CommandLine;

namespace Baton.Cli.Commands;

/// <summary>
/// `baton completion SHELL`: a script that makes the shell complete baton's commands and options. The scripts
/// ask `baton` itself (System.CommandLine's [suggest] directive), so completions always match this version.
/// </summary>
public sealed class CompletionCommand : BatonCommand
{
    private readonly Argument<string> _shell = new("shell") { Description = "bash, zsh or fish" };

    public CompletionCommand()
        : base("completion", "Print a shell completion script for bash, zsh or fish.",
            "source <(baton completion bash)        # in ~/.bashrc",
            "baton completion zsh > \"${fpath[1]}/_baton\"",
            "baton completion fish > ~/.config/fish/completions/baton.fish")
    {
        _shell.AcceptOnlyFromAmong("bash", "zsh", "fish");
        Arguments.Add(_shell);
    }

    protected override Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        parseResult.InvocationConfiguration.Output.Write(Script(parseResult.GetValue(_shell)!));
        return Task.FromResult(ExitCodes.Ok);
    }

    public static string Script(string shell) => shell switch
    {
        "bash" => """
            # baton completion for bash: source <(baton completion bash)
            _baton_complete() {
              local IFS=$'\n'
              local line="${COMP_LINE:0:COMP_POINT}"
              COMPREPLY=($(compgen -W "$(baton "[suggest:${#line}]" "$line" 2>/dev/null)" -- "${COMP_WORDS[COMP_CWORD]}"))
            }
            complete -o default -F _baton_complete baton

            """,
        "zsh" => """
            #compdef baton
            # baton completion for zsh: baton completion zsh > "${fpath[1]}/_baton", or source <(baton completion zsh)
            _baton() {
              local line="${(j: :)words[1,CURRENT]}"
              local -a suggestions
              suggestions=("${(@f)$(baton "[suggest:${#line}]" "$line" 2>/dev/null)}")
              compadd -- "${suggestions[@]}"
            }
            if [[ "${zsh_eval_context[-1]}" == loadautofunc ]]; then _baton "$@"; else compdef _baton baton; fi

            """,
        _ => """
            # baton completion for fish: baton completion fish > ~/.config/fish/completions/baton.fish
            function __baton_complete
                set -l line (commandline -cp)
                baton "[suggest:"(string length -- "$line")"]" "$line" 2>/dev/null
            end
            complete -c baton -f -a '(__baton_complete)'

            """,
    };
}
