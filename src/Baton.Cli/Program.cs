using Baton.Cli.Commands;

return await new BatonRootCommand().InvokeAsync(args);
