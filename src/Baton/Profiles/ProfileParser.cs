using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Baton.Profiles;

/// <summary>
/// Parses and validates a profile, reporting every problem with its file and line rather than stopping at
/// the first one: an author fixes a profile in one pass, and a bad file never takes the server down.
/// </summary>
public static partial class ProfileParser
{
    private static readonly string[] TopKeys = ["name", "description", "mode", "max_iterations", "budget_usd", "phases"];
    private static readonly string[] PhaseKeys = ["name", "worker", "prompt", "produces", "templates", "checks", "check", "gate", "on_failure", "timeout", "max_attempts", "delay", "tool_approvals"];
    private static readonly string[] GateKeys = ["required", "timeout", "on_timeout", "reject_to", "approvals", "approvers", "require_groups", "self_approval", "remind_after", "inputs"];
    private static readonly string[] PolicyKeys = ["approvals", "approvers", "require_groups", "self_approval", "remind_after", "inputs"];
    private static readonly string[] InputKeys = ["type", "required", "description", "values"];

    public static (Profile? Profile, IReadOnlyList<ProfileError> Errors) Parse(string yaml, string file)
    {
        var errors = new List<ProfileError>();
        if (YamlText.TryLoad(yaml, out var syntax) is not { } stream)
        {
            return (null, [new ProfileError(file, syntax!.Line, $"invalid YAML: {syntax.Message}", syntax.Column)]);
        }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            return (null, [new ProfileError(file, 1, "a profile is a YAML mapping with at least `name` and `phases`")]);
        }

        var ctx = new Context(file, errors);
        ctx.UnknownKeys(root, TopKeys, "profile");
        var name = ctx.RequiredString(root, "name");
        if (name is not null && !NamePattern().IsMatch(name))
        {
            ctx.Error(root, "name", "name must be 1-64 characters of a-z, 0-9, '_' or '-'");
        }
        var description = ctx.OptionalString(root, "description");
        var mode = ctx.Enum(root, "mode", RunMode.Auto);
        var maxIterations = ctx.Int(root, "max_iterations", Profile.DefaultMaxIterations, 1, 100);
        var budget = ctx.OptionalDecimal(root, "budget_usd", 0m, 1_000_000m);

        var phases = new List<PhaseDefinition>();
        if (!root.Children.TryGetValue(new YamlScalarNode("phases"), out var phasesNode))
        {
            ctx.Error(root, "`phases` is required");
        }
        else if (phasesNode is not YamlSequenceNode phaseList || phaseList.Children.Count == 0)
        {
            ctx.Error(phasesNode, "`phases` must be a non-empty list");
        }
        else
        {
            var seen = new HashSet<string>();
            foreach (var node in phaseList.Children)
            {
                if (node is not YamlMappingNode phaseNode)
                {
                    ctx.Error(node, "each phase is a mapping with at least `name`");
                    continue;
                }
                var phase = ParsePhase(ctx, phaseNode);
                if (phase is null)
                {
                    continue;
                }
                if (!seen.Add(phase.Name))
                {
                    ctx.Error(phaseNode, "name", $"phase '{phase.Name}' is defined twice");
                }
                phases.Add(phase);
            }
            CheckReferences(ctx, phaseList, phases);
        }

        if (errors.Count > 0 || name is null)
        {
            return (null, errors);
        }
        return (new Profile(name, description, mode, maxIterations, budget, phases), errors);
    }

    private static PhaseDefinition? ParsePhase(Context ctx, YamlMappingNode node)
    {
        ctx.UnknownKeys(node, PhaseKeys, "phase");
        var name = ctx.RequiredString(node, "name");
        if (name is not null && !NamePattern().IsMatch(name))
        {
            ctx.Error(node, "name", "phase name must be 1-64 characters of a-z, 0-9, '_' or '-'");
        }
        // `template` and `external` are built in; any other name is a worker made with POST /api/workers,
        // checked when a run is created.
        var worker = ctx.OptionalString(node, "worker") ?? PhaseDefinition.TemplateWorker;
        if (!NamePattern().IsMatch(worker))
        {
            ctx.Error(node, "worker", $"worker '{worker}' is not a worker name (a-z, 0-9, '_' or '-'): template, external, or a worker you created");
        }
        var prompt = ctx.OptionalString(node, "prompt");
        var produces = ctx.StringList(node, "produces");
        foreach (var artifact in produces)
        {
            if (!ArtifactNamePattern().IsMatch(artifact))
            {
                ctx.Error(node, "produces", $"artifact name '{artifact}' must be a file name (letters, digits, '.', '_', '-')");
            }
        }
        if (produces.Distinct().Count() != produces.Count)
        {
            ctx.Error(node, "produces", "an artifact is listed twice");
        }

        var templates = new Dictionary<string, string>();
        if (node.Children.TryGetValue(new YamlScalarNode("templates"), out var templatesNode))
        {
            if (templatesNode is YamlMappingNode map)
            {
                foreach (var (key, value) in map.Children)
                {
                    if (key is not YamlScalarNode { Value: { } artifact })
                    {
                        ctx.Error(key, "a template's key is an artifact name");
                        continue;
                    }
                    if (!produces.Contains(artifact))
                    {
                        ctx.Error(key, $"template for '{artifact}', which this phase does not produce");
                    }
                    if (value is YamlScalarNode text)
                    {
                        templates[artifact] = text.Value ?? "";
                    }
                    else
                    {
                        ctx.Error(value, $"template for '{artifact}' must be text");
                    }
                }
            }
            else
            {
                ctx.Error(templatesNode, "`templates` maps artifact names to template text");
            }
        }

        var checks = new List<ArtifactCheck>();
        if (node.Children.TryGetValue(new YamlScalarNode("checks"), out var checksNode))
        {
            if (checksNode is YamlSequenceNode list)
            {
                foreach (var item in list.Children)
                {
                    if (item is not YamlMappingNode check)
                    {
                        ctx.Error(item, "a check is a mapping: {artifact: NAME, contains: TEXT}");
                        continue;
                    }
                    ctx.UnknownKeys(check, ["artifact", "contains"], "check");
                    var artifact = ctx.RequiredString(check, "artifact");
                    if (artifact is not null)
                    {
                        checks.Add(new ArtifactCheck(artifact, ctx.OptionalString(check, "contains")));
                    }
                }
            }
            else
            {
                ctx.Error(checksNode, "`checks` must be a list");
            }
        }

        GateDefinition? gate = null;
        if (node.Children.TryGetValue(new YamlScalarNode("gate"), out var gateNode))
        {
            if (gateNode is YamlMappingNode g)
            {
                ctx.UnknownKeys(g, GateKeys, "gate");
                var required = ctx.Bool(g, "required", true);
                var timeout = ctx.Duration(g, "timeout", GateDefinition.DefaultTimeout, Durations.Max);
                var onTimeout = ctx.Enum(g, "on_timeout", GateTimeoutAction.Expire);
                var rejectTo = ctx.StringList(g, "reject_to");
                var policy = ParseGatePolicy(ctx, g, timeout, onTimeout);
                if (!required)
                {
                    foreach (var key in PolicyKeys.Where(k => g.Children.ContainsKey(new YamlScalarNode(k))))
                    {
                        ctx.Error(g, key, $"`{key}` on a gate that is not required: without a gate there is no one to apply it to");
                    }
                }
                else
                {
                    gate = policy with { RejectTo = rejectTo.Count > 0 ? rejectTo : [name ?? ""] };
                }
            }
            else
            {
                ctx.Error(gateNode, $"`gate` must be a mapping ({string.Join(", ", GateKeys)})");
            }
        }

        string? retryFrom = null;
        if (node.Children.TryGetValue(new YamlScalarNode("on_failure"), out var failureNode))
        {
            if (failureNode is YamlMappingNode f)
            {
                ctx.UnknownKeys(f, ["retry_from"], "on_failure");
                retryFrom = ctx.RequiredString(f, "retry_from");
            }
            else
            {
                ctx.Error(failureNode, "`on_failure` must be a mapping: {retry_from: PHASE}");
            }
        }

        // check: the program that tests the workspace after the phase (`[pytest, -q]` or "npm test"), never run by a shell.
        List<string>? checkCommand = null;
        if (node.Children.TryGetValue(new YamlScalarNode("check"), out var checkNode))
        {
            checkCommand = checkNode switch
            {
                YamlScalarNode { Value: { Length: > 0 } text } => text.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList(),
                YamlSequenceNode list when list.Children.Count > 0 && list.Children.All(c => c is YamlScalarNode { Value.Length: > 0 }) =>
                    list.Children.Select(c => ((YamlScalarNode)c).Value!).ToList(),
                _ => null,
            };
            if (checkCommand is null)
            {
                ctx.Error(checkNode, "`check` is a command: a list like [npm, test] or a string like \"pytest -q\"");
            }
        }
        var timeoutValue = ctx.Duration(node, "timeout", TimeSpan.FromMinutes(30), Durations.MaxTimer);
        var maxAttempts = ctx.Int(node, "max_attempts", 3, 1, 20);
        var delay = ctx.Duration(node, "delay", TimeSpan.Zero, Durations.MaxTimer);
        var toolApprovals = ctx.StringList(node, "tool_approvals");
        // Tool names are the agent's own (Bash, WebFetch, mcp__server__tool): free-form, but bounded, since each
        // becomes part of the agent's command line.
        if (toolApprovals.Count > PhaseDefinition.MaxToolApprovals)
        {
            ctx.Error(node, "tool_approvals", $"`tool_approvals` lists at most {PhaseDefinition.MaxToolApprovals} tools");
        }
        foreach (var tool in toolApprovals.Where(t => !ToolNamePattern().IsMatch(t)))
        {
            ctx.Error(node, "tool_approvals", $"tool name '{tool}' must be 1-128 characters of letters, digits, '_', '-' or '.'");
        }
        if (toolApprovals.Distinct(StringComparer.Ordinal).Count() != toolApprovals.Count)
        {
            ctx.Error(node, "tool_approvals", "a tool is listed twice");
        }
        if (name is null)
        {
            return null;
        }
        return new PhaseDefinition(name, worker, prompt, produces, templates, checks, gate, retryFrom, timeoutValue, maxAttempts, delay, checkCommand)
        {
            ToolApprovals = toolApprovals,
        };
    }

    /// <summary>
    /// A gate's policy and form (ADR 32), with what cannot work reported rather than run: a role below approver (which
    /// may not call approve at all), a reminder that never comes before the timeout, required fields that an automatic
    /// approval on timeout could not fill.
    /// </summary>
    private static GateDefinition ParseGatePolicy(Context ctx, YamlMappingNode g, TimeSpan timeout, GateTimeoutAction onTimeout)
    {
        var approvals = ctx.Int(g, "approvals", 1, 1, 20);
        var approvers = GateDefinition.DefaultApprovers;
        if (g.Children.ContainsKey(new YamlScalarNode("approvers")))
        {
            var listed = ctx.StringList(g, "approvers");
            if (listed.Count == 0)
            {
                ctx.Error(g, "approvers", "`approvers` must name at least one `role:approver`, `role:admin` or `group:NAME`; leave it out for the default (role:approver)");
            }
            foreach (var entry in listed)
            {
                var (kind, value) = entry.IndexOf(':') is var colon and > 0 ? (entry[..colon], entry[(colon + 1)..]) : ("", entry);
                if (kind == "role" && Auth.Roles.Rank(value) >= 0 && Auth.Roles.Rank(value) < Auth.Roles.Rank(Auth.Roles.Approver))
                {
                    ctx.Error(g, "approvers", $"'{entry}' can never decide: approving and rejecting need the approver role; use role:approver, role:admin or a group");
                }
                else if (!(kind == "role" && Auth.Roles.Rank(value) >= 0) && !(kind == "group" && NamePattern().IsMatch(value)))
                {
                    ctx.Error(g, "approvers", $"approver '{entry}' must be role:approver, role:admin or group:NAME (a-z, 0-9, '_' or '-')");
                }
            }
            if (listed.Distinct().Count() != listed.Count)
            {
                ctx.Error(g, "approvers", "an approver is listed twice");
            }
            approvers = listed.Count > 0 ? listed : approvers;
        }
        var requiredGroups = ParseRequiredGroups(ctx, g, approvals, approvers);
        var selfApproval = true;
        if (g.Children.TryGetValue(new YamlScalarNode("self_approval"), out var selfNode))
        {
            selfApproval = (selfNode as YamlScalarNode)?.Value switch
            {
                "allow" => true,
                "deny" => false,
                _ => Invalid(),
            };
            bool Invalid()
            {
                ctx.Error(selfNode, "`self_approval` must be allow or deny");
                return true;
            }
        }
        TimeSpan? remindAfter = null;
        if (g.Children.ContainsKey(new YamlScalarNode("remind_after")))
        {
            remindAfter = ctx.Duration(g, "remind_after", TimeSpan.Zero, Durations.MaxTimer);
            if (remindAfter < TimeSpan.FromSeconds(1))
            {
                ctx.Error(g, "remind_after", "`remind_after` must be at least 1s");
                remindAfter = null;
            }
            else if (remindAfter >= timeout)
            {
                ctx.Error(g, "remind_after", $"`remind_after` ({Durations.Format(remindAfter.Value)}) is not shorter than the gate's timeout ({Durations.Format(timeout)}): no reminder would ever be sent");
            }
        }
        var inputs = ParseGateInputs(ctx, g);
        if (onTimeout == GateTimeoutAction.Approve && inputs.FirstOrDefault(i => i.Required) is { } required)
        {
            ctx.Error(g, "on_timeout", $"`on_timeout: approve` cannot fill the required input '{required.Name}'; make it optional or choose expire or reject");
        }
        return new GateDefinition(timeout, onTimeout, [])
        {
            Approvals = approvals,
            Approvers = approvers,
            RequiredGroups = requiredGroups,
            SelfApproval = selfApproval,
            RemindAfter = remindAfter,
            Inputs = inputs,
        };
    }

    /// <summary>
    /// `require_groups: {security: 1}`: of the gate's approvals, at least that many from keys of the group (ADR 39).
    /// What no set of keys could meet is reported: counts adding up to more than `approvals` (one approval fills one
    /// group's place), and a group that `approvers` shuts out (only groups listed, and not this one).
    /// </summary>
    private static Dictionary<string, int> ParseRequiredGroups(Context ctx, YamlMappingNode g, int approvals, IReadOnlyList<string> approvers)
    {
        var required = new Dictionary<string, int>(StringComparer.Ordinal);
        if (!g.Children.TryGetValue(new YamlScalarNode("require_groups"), out var node))
        {
            return required;
        }
        if (node is not YamlMappingNode groups || groups.Children.Count == 0)
        {
            ctx.Error(node, "`require_groups` maps group names to how many approvals must come from each, e.g. {security: 1}");
            return required;
        }
        foreach (var (key, value) in groups.Children)
        {
            var group = (key as YamlScalarNode)?.Value ?? "";
            if (!NamePattern().IsMatch(group))
            {
                ctx.Error(key, $"group '{group}' in `require_groups` must be 1-64 characters of a-z, 0-9, '_' or '-' (a key's group, without `group:`)");
                continue;
            }
            if (value is not YamlScalarNode { Value: { } text } || !int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var count) || count < 1 || count > approvals)
            {
                ctx.Error(value, $"`require_groups.{group}` must be a whole number from 1 to `approvals` ({approvals})");
                continue;
            }
            if (approvers.All(a => a.StartsWith("group:", StringComparison.Ordinal)) && !approvers.Contains("group:" + group))
            {
                ctx.Error(key, $"group '{group}' is required but `approvers` ({string.Join(", ", approvers)}) does not let it decide; add group:{group} or a role to `approvers`");
            }
            required[group] = count;
        }
        if (required.Values.Sum() is var sum && sum > approvals)
        {
            ctx.Error(node, $"`require_groups` asks for {sum} approvals from groups but the gate takes {approvals} (`approvals`); each approval fills one group's place, so raise `approvals` to at least {sum}");
        }
        return required;
    }

    private static List<GateInput> ParseGateInputs(Context ctx, YamlMappingNode g)
    {
        var inputs = new List<GateInput>();
        if (!g.Children.TryGetValue(new YamlScalarNode("inputs"), out var inputsNode))
        {
            return inputs;
        }
        if (inputsNode is not YamlMappingNode fields)
        {
            ctx.Error(inputsNode, "`inputs` maps field names to {type, required, description, values}");
            return inputs;
        }
        foreach (var (key, value) in fields.Children)
        {
            var field = (key as YamlScalarNode)?.Value ?? "";
            if (!InputNamePattern().IsMatch(field))
            {
                ctx.Error(key, $"input name '{field}' must be 1-64 characters of a-z, A-Z, 0-9 or '_', starting with a letter");
                continue;
            }
            if (value is not YamlMappingNode spec)
            {
                ctx.Error(value, $"input '{field}' is a mapping: {{type, required, description, values}}");
                continue;
            }
            ctx.UnknownKeys(spec, InputKeys, "input");
            var type = GateInputType.String;
            if (!spec.Children.ContainsKey(new YamlScalarNode("type")))
            {
                ctx.Error(spec, $"input '{field}' needs a `type`: string, text, number, boolean or enum");
            }
            else
            {
                type = ctx.Enum(spec, "type", GateInputType.String);
            }
            var values = ctx.StringList(spec, "values");
            if (type == GateInputType.Enum && values.Count == 0)
            {
                ctx.Error(spec, "type", $"enum input '{field}' needs `values`, the choices");
            }
            if (type != GateInputType.Enum && spec.Children.ContainsKey(new YamlScalarNode("values")))
            {
                ctx.Error(spec, "values", $"`values` applies to an enum; input '{field}' is a {type.ToString().ToLowerInvariant()}");
            }
            if (values.Distinct().Count() != values.Count)
            {
                ctx.Error(spec, "values", $"a value of input '{field}' is listed twice");
            }
            inputs.Add(new GateInput(field, type, ctx.Bool(spec, "required", false), ctx.OptionalString(spec, "description"), values));
        }
        return inputs;
    }

    /// <summary>reject_to, retry_from and checks may only point back to this phase or an earlier one.</summary>
    private static void CheckReferences(Context ctx, YamlSequenceNode list, List<PhaseDefinition> phases)
    {
        for (var i = 0; i < phases.Count; i++)
        {
            var phase = phases[i];
            var node = list.Children.OfType<YamlMappingNode>().FirstOrDefault(n =>
                n.Children.TryGetValue(new YamlScalarNode("name"), out var v) && (v as YamlScalarNode)?.Value == phase.Name) ?? (YamlNode)list;
            var earlier = phases.Take(i + 1).Select(p => p.Name).ToHashSet();
            foreach (var target in phase.Gate?.RejectTo ?? [])
            {
                if (!earlier.Contains(target))
                {
                    ctx.Error(node, "gate", $"reject_to '{target}' is not this phase or an earlier one");
                }
            }
            if (phase.RetryFrom is { } retry && !earlier.Contains(retry))
            {
                ctx.Error(node, "on_failure", $"retry_from '{retry}' is not this phase or an earlier one");
            }
            foreach (var artifact in phase.Produces)
            {
                if (phases.Take(i).FirstOrDefault(p => p.Produces.Contains(artifact)) is { } earlierProducer)
                {
                    ctx.Error(node, "produces", $"'{artifact}' is already produced by phase '{earlierProducer.Name}'; artifact names are unique in a profile");
                }
            }
            var available = phases.Take(i + 1).SelectMany(p => p.Produces).ToHashSet();
            foreach (var check in phase.Checks)
            {
                if (!available.Contains(check.Artifact))
                {
                    ctx.Error(node, "checks", $"check on '{check.Artifact}', which neither this phase nor an earlier one produces");
                }
            }
        }
    }

    [GeneratedRegex("^[a-z0-9_-]{1,64}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9_]{0,63}$")]
    private static partial Regex InputNamePattern();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    private static partial Regex ArtifactNamePattern();

    [GeneratedRegex(@"^[A-Za-z][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex ToolNamePattern();

    private sealed class Context(string file, List<ProfileError> errors)
    {
        public void Error(YamlNode node, string message) => errors.Add(new ProfileError(file, (int)node.Start.Line, message));

        public void Error(YamlNode parent, string key, string message) =>
            Error(parent is YamlMappingNode map && map.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : parent, message);

        public void UnknownKeys(YamlMappingNode node, string[] known, string what)
        {
            foreach (var key in node.Children.Keys)
            {
                var text = (key as YamlScalarNode)?.Value ?? "";
                if (!known.Contains(text))
                {
                    Error(key, $"unknown {what} field '{text}'; known fields: {string.Join(", ", known)}");
                }
            }
        }

        public string? RequiredString(YamlMappingNode node, string key)
        {
            if (!node.Children.TryGetValue(new YamlScalarNode(key), out _))
            {
                Error(node, $"`{key}` is required");
                return null;
            }
            return OptionalString(node, key);
        }

        public string? OptionalString(YamlMappingNode node, string key)
        {
            if (!node.Children.TryGetValue(new YamlScalarNode(key), out var value))
            {
                return null;
            }
            if (value is YamlScalarNode { Value: { } text } && text.Length > 0)
            {
                return text;
            }
            Error(value, $"`{key}` must be non-empty text");
            return null;
        }

        public List<string> StringList(YamlMappingNode node, string key)
        {
            if (!node.Children.TryGetValue(new YamlScalarNode(key), out var value))
            {
                return [];
            }
            if (value is YamlSequenceNode list && list.Children.All(c => c is YamlScalarNode { Value.Length: > 0 }))
            {
                return list.Children.Select(c => ((YamlScalarNode)c).Value!).ToList();
            }
            Error(value, $"`{key}` must be a list of names");
            return [];
        }

        public int Int(YamlMappingNode node, string key, int fallback, int min, int max)
        {
            if (!node.Children.TryGetValue(new YamlScalarNode(key), out var value))
            {
                return fallback;
            }
            if (value is YamlScalarNode s && int.TryParse(s.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max)
            {
                return n;
            }
            Error(value, $"`{key}` must be a whole number from {min} to {max}");
            return fallback;
        }

        public decimal? OptionalDecimal(YamlMappingNode node, string key, decimal min, decimal max)
        {
            if (!node.Children.TryGetValue(new YamlScalarNode(key), out var value))
            {
                return null;
            }
            if (value is YamlScalarNode s && decimal.TryParse(s.Value, NumberStyles.Number, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max)
            {
                return n;
            }
            Error(value, $"`{key}` must be a number from {min} to {max}");
            return null;
        }

        public bool Bool(YamlMappingNode node, string key, bool fallback)
        {
            if (!node.Children.TryGetValue(new YamlScalarNode(key), out var value))
            {
                return fallback;
            }
            if (value is YamlScalarNode s && bool.TryParse(s.Value, out var b))
            {
                return b;
            }
            Error(value, $"`{key}` must be true or false");
            return fallback;
        }

        public TimeSpan Duration(YamlMappingNode node, string key, TimeSpan fallback, TimeSpan max)
        {
            if (!node.Children.TryGetValue(new YamlScalarNode(key), out var value))
            {
                return fallback;
            }
            if (value is YamlScalarNode { Value: { } s } && Durations.TryParse(s, out var d) && d <= max)
            {
                return d;
            }
            Error(value, $"`{key}` must be a duration such as 500ms, 30s, 5m, 2h or 7d, at most {Durations.Format(max)}");
            return fallback;
        }

        public T Enum<T>(YamlMappingNode node, string key, T fallback) where T : struct, System.Enum
        {
            if (!node.Children.TryGetValue(new YamlScalarNode(key), out var value))
            {
                return fallback;
            }
            var names = System.Enum.GetNames<T>().Select(n => n.ToLowerInvariant()).ToArray();
            if (value is YamlScalarNode { Value: { } s } && names.Contains(s))
            {
                return System.Enum.Parse<T>(s, ignoreCase: true);
            }
            Error(value, $"`{key}` must be one of: {string.Join(", ", names)}");
            return fallback;
        }
    }
}
