namespace Baton.Tests.Support;

/// <summary>
/// A real git repository in a temp folder: a tiny Python module with a real unittest suite, one test of which fails
/// until `slugify` is implemented — what the agent scripts below do.
/// </summary>
public sealed class SampleRepo : IDisposable
{
    public SampleRepo()
    {
        Root = Directory.CreateTempSubdirectory("baton-repo-").FullName;
        Path = System.IO.Path.Combine(Root, "repo");
        Scripts = System.IO.Path.Combine(Root, "scripts");
        Directory.CreateDirectory(Path);
        Directory.CreateDirectory(Scripts);
        File.WriteAllText(System.IO.Path.Combine(Path, "textutil.py"), """
            def shout(text):
                return text.upper() + "!"


            def slugify(text):
                raise NotImplementedError("slugify")
            """ + "\n");
        File.WriteAllText(System.IO.Path.Combine(Path, "test_textutil.py"), """
            import unittest

            from textutil import shout, slugify


            class TextutilTest(unittest.TestCase):
                def test_shout(self):
                    self.assertEqual(shout("hi"), "HI!")

                def test_slugify(self):
                    self.assertEqual(slugify("Hello World"), "hello-world")


            if __name__ == "__main__":
                unittest.main()
            """ + "\n");
        File.WriteAllText(System.IO.Path.Combine(Path, ".gitignore"), "__pycache__/\n");
        Git("init", "--quiet", "--initial-branch=main");
        Git("add", "-A");
        Git("-c", "user.name=Test", "-c", "user.email=test@localhost", "commit", "--quiet", "-m", "initial");

        // The implementer: edits the code (commits nothing itself), prints progress and its usage.
        Script("implement.sh", """
            #!/bin/sh
            echo "implementing slugify in $BATON_WORKSPACE"
            cat > textutil.py <<'PY'
            def shout(text):
                return text.upper() + "!"


            def slugify(text):
                return "-".join(text.lower().split())
            PY
            echo "notes for $BATON_PHASE" > "$BATON_ARTIFACTS_DIR/notes.md"
            echo '{"baton_usage": {"tokens_in": 1200, "tokens_out": 300, "cost_usd": 0.0125, "tool_calls": 4, "summary": "slugify implemented"}}'
            """);
        // Prints a line, waits until told to go on (a file `go` in its execution folder, which the sandbox shows it):
        // proves log lines stream while the process still runs. The file `talked` says the first line has been printed.
        Script("talk-then-wait.sh", """
            #!/bin/sh
            echo "first line from the agent"
            : > "$BATON_ARTIFACTS_DIR/../talked"
            while [ ! -f "$BATON_ARTIFACTS_DIR/../go" ]; do sleep 0.05; done
            echo "second line"
            """);
        // A parent with a child that ignores SIGTERM; both write their pids (in the sandbox's pid namespace).
        Script("tree.sh", """
            #!/bin/bash
            bash -c 'trap "" TERM; echo $$ > "$BATON_ARTIFACTS_DIR/../child.pid"; while true; do sleep 1; done' &
            echo $$ > "$BATON_ARTIFACTS_DIR/../parent.pid"
            # "started" only once both pids are written: a test reads them as soon as it sees the line.
            while [ ! -s "$BATON_ARTIFACTS_DIR/../child.pid" ]; do sleep 0.01; done
            echo "started tree"
            while true; do sleep 1; done
            """);
        // The implementer, slowly: it says it started (a file `implementing` in its execution folder, then a log line)
        // and waits until told to go on by a file `go` there, so a test can kill its server in the middle and take as
        // long as it needs to restart. The wait is bounded (2 min) so that a failed test leaves no agent behind for good.
        Script("slow-implement.sh", """
            #!/bin/sh
            here="$BATON_ARTIFACTS_DIR/.."
            echo "half done" > half_done.txt
            : > "$here/implementing"
            echo "slow implementer started (pid $$)"
            i=0; while [ ! -f "$here/go" ] && [ $i -lt 2400 ]; do sleep 0.05; i=$((i+1)); done
            cat > textutil.py <<'PY'
            def shout(text):
                return text.upper() + "!"


            def slugify(text):
                return "-".join(text.lower().split())
            PY
            echo "slow implementer finished"
            """);
        // Writes when it started and ended (ns, host clock) into its execution folder, so a test can check that no two
        // executions overlapped; a prompt saying "hold" keeps it running until a file `go` appears there.
        Script("record-span.sh", """
            #!/bin/sh
            here="$BATON_ARTIFACTS_DIR/.."
            date +%s%N > "$here/started"
            if grep -q hold "$BATON_PROMPT_FILE"; then
              while [ ! -f "$here/go" ]; do sleep 0.05; done
            else
              sleep 0.3
            fi
            date +%s%N > "$here/ended"
            """);
        // A phase that takes a moment and changes the workspace: many of them keep nodes busy in cluster tests.
        Script("sleep-then-write.sh", """
            #!/bin/sh
            sleep 0.3
            echo "$BATON_RUN_ID $BATON_PHASE" > built.txt
            echo built
            """);
        Script("env.sh", """
            #!/bin/sh
            env | sort
            """);
        // Writes each argument on its own line to a file: what the program really received.
        Script("args.sh", """
            #!/bin/sh
            for a in "$@"; do printf '%s\n' "$a"; done > "$BATON_ARTIFACTS_DIR/../args.txt"
            echo done
            """);
        Script("fail.sh", """
            #!/bin/sh
            echo "about to fail" >&2
            exit 3
            """);
        // Changes paths git would quote (space, newline, quote, not UTF-8, a leading dash), deletes one and renames one.
        Script("odd-names.sh", """
            #!/bin/bash
            printf x > 'with space.txt'
            printf x > "$(printf 'new\nline.txt')"
            printf x > 'quote".txt'
            printf x > 'ünïcode.txt'
            printf x > "$(printf 'bad\377name.txt')"
            printf x > ./-dash.txt
            mkdir -p deep/er && printf x > deep/er/file.txt
            rm test_textutil.py
            mv .gitignore gitignore.txt
            echo renamed
            """);
        // Adds more files than an execution lists.
        Script("many-files.sh", """
            #!/bin/bash
            mkdir many && cd many && for i in $(seq 0 10000); do : > "f$i"; done
            """);
    }

    public string Root { get; }

    public string Path { get; }

    public string Scripts { get; }

    public string ScriptPath(string name) => System.IO.Path.Combine(Scripts, name);

    /// <summary>software_delivery with its implementation done by <paramref name="worker"/> and its tests run for real.</summary>
    public static string DeliveryProfile(string worker, bool gate = true) => $$$"""
        name: software_delivery
        phases:
          - name: discovery
            produces: [prd.md]
          - name: design
            produces: [tech_spec.md]
        {{{(gate ? "    gate:\n      reject_to: [design, discovery]" : "")}}}
          - name: implementation
            worker: {{{worker}}}
            prompt: "Implement this: {{intake}}"
          - name: test
            produces: [test_report.md]
            check: [python3, -m, unittest, -v]
            on_failure:
              retry_from: implementation
          - name: document
            produces: [documentation.md]
        """;

    public string Git(params string[] args) => TestGit.Run(Path, args);

    private void Script(string name, string body)
    {
        var path = System.IO.Path.Combine(Scripts, name);
        File.WriteAllText(path, body + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
