using Baton.Profiles;

namespace Baton.Tests.Gates;

/// <summary>`gate:` policies and forms in profiles: what parses, and what `profile validate` reports with file and line.</summary>
public class GatePolicyParserTests
{
    [Fact]
    public void A_team_gate_parses_its_policy_and_form()
    {
        var (profile, errors) = ProfileParser.Parse("""
            name: team
            phases:
              - name: review
                gate:
                  timeout: 2d
                  approvals: 2
                  approvers: [role:approver, group:security]
                  self_approval: deny
                  remind_after: 4h
                  inputs:
                    ticket: {type: string, required: true, description: the change ticket}
                    risk: {type: enum, values: [low, high]}
            """, "team.yaml");
        Assert.Empty(errors);
        var gate = profile!.Phases[0].Gate!;
        Assert.Equal((2, false, TimeSpan.FromHours(4)), (gate.Approvals, gate.SelfApproval, gate.RemindAfter));
        Assert.Equal(["role:approver", "group:security"], gate.Approvers);
        Assert.Equal([("ticket", GateInputType.String, true), ("risk", GateInputType.Enum, false)], gate.Inputs.Select(i => (i.Name, i.Type, i.Required)));
        Assert.Equal(["low", "high"], gate.Inputs[1].Values);
    }

    [Fact]
    public void A_gate_without_a_policy_keeps_the_defaults()
    {
        var gate = ProfileParser.Parse("name: p\nphases:\n  - name: a\n    gate: {}\n", "p.yaml").Profile!.Phases[0].Gate!;
        Assert.Equal((1, true, (TimeSpan?)null), (gate.Approvals, gate.SelfApproval, gate.RemindAfter));
        Assert.Equal(["role:approver"], gate.Approvers);
        Assert.Empty(gate.Inputs);
    }

    [Fact]
    public void Impossible_and_contradictory_policies_are_reported_with_file_and_line()
    {
        var (profile, errors) = ProfileParser.Parse("""
            name: broken
            phases:
              - name: a
                gate:
                  timeout: 1h
                  on_timeout: approve
                  approvals: 0
                  approvers: [role:operator, team:x, group:security, group:security]
                  self_approval: maybe
                  remind_after: 2h
                  inputs:
                    risk: {type: enum}
                    size: {type: number, values: [1, 2]}
                    ticket: {type: string, required: true}
                    color: {type: colour}
                    9lives: {type: string}
              - name: b
                gate:
                  required: false
                  approvals: 2
            """, "broken.yaml");
        Assert.Null(profile);
        var text = errors.Select(e => e.ToString()).ToList();
        void Has(int line, string fragment) =>
            Assert.True(text.Any(t => t.StartsWith($"broken.yaml:{line}:", StringComparison.Ordinal) && t.Contains(fragment, StringComparison.Ordinal)),
                $"no error at line {line} containing '{fragment}' in:\n{string.Join("\n", text)}");
        Has(6, "cannot fill the required input 'ticket'");
        Has(7, "`approvals` must be a whole number from 1 to 20");
        Has(8, "'role:operator' can never decide");
        Has(8, "approver 'team:x' must be");
        Has(8, "an approver is listed twice");
        Has(9, "`self_approval` must be allow or deny");
        Has(10, "no reminder would ever be sent");
        Has(12, "enum input 'risk' needs `values`");
        Has(13, "`values` applies to an enum");
        Has(15, "`type` must be one of");
        Has(16, "input name '9lives'");
        Has(20, "`approvals` on a gate that is not required");
    }

    [Fact]
    public void Require_groups_parses_as_counts_per_group()
    {
        var (profile, errors) = ProfileParser.Parse("""
            name: team
            phases:
              - name: review
                gate:
                  approvals: 3
                  approvers: [role:approver]
                  require_groups: {security: 1, legal: 2}
            """, "team.yaml");
        Assert.Empty(errors);
        Assert.Equal(new Dictionary<string, int> { ["security"] = 1, ["legal"] = 2 }, profile!.Phases[0].Gate!.RequiredGroups);
        Assert.Empty(ProfileParser.Parse("name: p\nphases:\n  - name: a\n    gate: {}\n", "p.yaml").Profile!.Phases[0].Gate!.RequiredGroups);
    }

    [Fact]
    public void Group_quorums_no_set_of_keys_could_meet_are_reported_with_file_and_line()
    {
        var (profile, errors) = ProfileParser.Parse("""
            name: broken
            phases:
              - name: a
                gate:
                  approvals: 2
                  require_groups:
                    security: 2
                    legal: 1
              - name: b
                gate:
                  approvers: [group:legal]
                  require_groups: {security: 1}
              - name: c
                gate:
                  approvals: 2
                  require_groups: {Security!: 1, ops: 0, qa: many}
              - name: d
                gate:
                  require_groups: [security]
              - name: e
                gate:
                  required: false
                  require_groups: {security: 1}
            """, "broken.yaml");
        Assert.Null(profile);
        var text = errors.Select(e => e.ToString()).ToList();
        void Has(int line, string fragment) =>
            Assert.True(text.Any(t => t.StartsWith($"broken.yaml:{line}:", StringComparison.Ordinal) && t.Contains(fragment, StringComparison.Ordinal)),
                $"no error at line {line} containing '{fragment}' in:\n{string.Join("\n", text)}");
        Has(7, "asks for 3 approvals from groups but the gate takes 2");
        Has(12, "group 'security' is required but `approvers` (group:legal) does not let it decide");
        Has(16, "group 'Security!' in `require_groups` must be");
        Has(16, "`require_groups.ops` must be a whole number from 1 to `approvals` (2)");
        Has(16, "`require_groups.qa` must be a whole number");
        Has(19, "`require_groups` maps group names to how many approvals");
        Has(23, "`require_groups` on a gate that is not required");
        Assert.Equal(7, text.Count);
    }
}
