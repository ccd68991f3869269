using Baton.Auth;
using Baton.Dashboard.Components;
using Baton.Profiles;

namespace Baton.Dashboard;

/// <summary>The profile catalog, and one profile: its phases as a diagram and its YAML.</summary>
public static class ProfilePages
{
    public static void Map(RouteGroupBuilder pages)
    {
        pages.MapGet("/profiles", List);
        pages.MapGet("/profiles/{name}", Detail);
    }

    private static IResult List(ProfileCatalog catalog, HttpContext http)
    {
        var set = catalog.Current();
        // Where the server keeps its files is for those who administer it.
        var folder = http.User.Has(Roles.Admin) ? catalog.UserFolder : "<data dir>/profiles";
        return DashboardPages.Render<ProfilesPage>(new { Profiles = set.Profiles, Errors = set.Errors, UserFolder = folder });
    }

    private static IResult Detail(string name, ProfileCatalog catalog)
    {
        var set = catalog.Current();
        if (set.Find(name) is not { } loaded)
        {
            var broken = set.Errors.Any(e => Path.GetFileNameWithoutExtension(e.File) == name);
            return DashboardPages.NotFound("Profile not found", broken
                ? $"The profile '{name}' has errors and could not be loaded; the profiles page lists them."
                : $"There is no profile '{name}'. The profiles page lists every profile this server has.");
        }
        return DashboardPages.Render<ProfilePage>(new
        {
            Profile = loaded,
            Diagram = PhaseDiagram.Layout(loaded.Profile),
            Lines = YamlHighlighter.Tokenize(loaded.Source),
        });
    }
}
