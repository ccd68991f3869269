using Baton.Profiles;
using Baton.Runs;

namespace Baton.Tests.Gates;

/// <summary>The pure per-group quorum (ADR 39): one approval per place, matched the best way round.</summary>
public class GateQuorumTests
{
    private static GateDefinition Gate(int approvals, Dictionary<string, int> required) =>
        new(GateDefinition.DefaultTimeout, GateTimeoutAction.Expire, ["a"]) { Approvals = approvals, RequiredGroups = required };

    [Fact]
    public void A_key_in_two_groups_moves_to_the_place_still_open_when_another_group_member_comes()
    {
        var required = new Dictionary<string, int> { ["security"] = 1, ["legal"] = 1 };
        // Alone, the key of both groups fills one place: one is missing.
        Assert.Equal(1, GateQuorum.MissingGroups(required, [["security", "legal"]]).Values.Sum());
        // A security key after it: the first moves over to legal, and both places are filled.
        Assert.Empty(GateQuorum.MissingGroups(required, [["security", "legal"], ["security"]]));
        Assert.Empty(GateQuorum.MissingGroups(required, [["security", "legal"], ["legal"]]));
        // Two security keys fill only security's place.
        Assert.Equal(new Dictionary<string, int> { ["legal"] = 1 }, GateQuorum.MissingGroups(required, [["security"], ["security"]]));
    }

    [Fact]
    public void An_approval_counts_only_while_the_approvals_left_can_still_fill_the_groups()
    {
        var gate = Gate(3, new Dictionary<string, int> { ["security"] = 2 });
        Assert.Null(GateQuorum.WhyNotCounted(gate, [], "ann", []));
        // One of three taken by a plain key: the two left are security's.
        var why = GateQuorum.WhyNotCounted(gate, [[]], "bob", []);
        Assert.Equal("the gate's 2 remaining approval(s) must come from group security (2 more); key 'bob' is in no group", why);
        Assert.Null(GateQuorum.WhyNotCounted(gate, [[]], "sec", ["security"]));
        Assert.Null(GateQuorum.WhyNotCounted(gate, [["security"]], "ann", []));
        Assert.NotNull(GateQuorum.WhyNotCounted(gate, [["security"], []], "ops", ["ops"]));
        // Without require_groups every approval counts.
        Assert.Null(GateQuorum.WhyNotCounted(Gate(2, []), [[]], "bob", []));
    }
}
