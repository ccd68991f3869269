using Baton;

var builder = WebApplication.CreateBuilder([.. args, BatonHost.NoConfigReload]);
builder.AddBaton();

var app = builder.Build();
app.MapBaton();
app.Run();

/// <summary>The entry point, visible to WebApplicationFactory in tests.</summary>
public partial class Program;
