// The tests kill real process groups, read /proc and set Unix file modes: they run on Linux (as CI does).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
