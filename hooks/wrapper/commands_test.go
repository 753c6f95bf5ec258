package wrapper

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/confinehq/confine/hooks"
	"github.com/confinehq/confine/internal/config"
)

// Every runc subcommand (runc 1.1 to 1.4: `runc --help`) and what
// confine-runc does with it. "inject": confined is asked, the spec runc
// reads is the private copy with the profile, the bundle is untouched.
// "pass": runc gets the command line untouched and nothing else happens.
// In every case runc's argv is exactly the one given.
func TestEveryRuncCommand(t *testing.T) {
	tests := []struct {
		cmd    []string
		action string
		why    string
	}{
		{[]string{"checkpoint", "--image-path", "/ckpt", "c1"}, "pass", "reads the running container, starts nothing"},
		{[]string{"create", "--bundle", "{bundle}", "c1"}, "inject", "starts a container from a bundle"},
		{[]string{"delete", "--force", "c1"}, "pass", "stops and removes; the private copy is pruned later"},
		{[]string{"events", "--stats", "c1"}, "pass", "reads"},
		{[]string{"exec", "--tty", "c1", "sh"}, "pass", "joins a running, already confined container"},
		{[]string{"features"}, "pass", "prints"},
		{[]string{"init"}, "pass", "runc's own init, never called by users"},
		{[]string{"kill", "c1", "KILL"}, "pass", "signals"},
		{[]string{"list", "--format", "json"}, "pass", "reads"},
		{[]string{"pause", "c1"}, "pass", "freezes"},
		{[]string{"ps", "c1"}, "pass", "reads"},
		{[]string{"restore", "--image-path", "/ckpt", "--bundle", "{bundle}", "c1"}, "inject", "starts a container from a bundle and a checkpoint"},
		{[]string{"resume", "c1"}, "pass", "thaws"},
		{[]string{"run", "--bundle", "{bundle}", "-d", "c1"}, "inject", "starts a container from a bundle"},
		{[]string{"spec", "--bundle", "{bundle}"}, "pass", "writes a new spec for the user"},
		{[]string{"start", "c1"}, "pass", "starts the user process of a container create injected"},
		{[]string{"state", "c1"}, "pass", "reads"},
		{[]string{"update", "--memory", "1M", "c1"}, "pass", "changes resources"},
		{[]string{"help"}, "pass", "prints"},
		{[]string{"h"}, "pass", "prints (alias of help)"},
	}
	for _, tt := range tests {
		t.Run(tt.cmd[0], func(t *testing.T) {
			e := newEnv(t, config.FailClosed, true)
			cmd := make([]string, len(tt.cmd))
			for i, a := range tt.cmd {
				cmd[i] = strings.ReplaceAll(a, "{bundle}", e.bundle)
			}
			args := e.containerdArgs(cmd...)
			if err := e.wrapper(args).Run(context.Background()); err != nil {
				t.Fatalf("Run: %v", err)
			}
			e.assertExecOriginal(args)
			e.assertUnchanged()
			injected := len(e.overlays) == 1 && len(e.backend.Decides()) == 1
			switch tt.action {
			case "inject":
				if !injected || e.spec().Annotations["confine.profile"] != "web" {
					t.Errorf("%s (%s): not injected: overlays %v, %d decisions", tt.cmd[0], tt.why, e.overlays, len(e.backend.Decides()))
				}
			case "pass":
				if len(e.overlays) != 0 || len(e.backend.Decides()) != 0 {
					t.Errorf("%s (%s): want passed through untouched, got overlays %v, %d decisions", tt.cmd[0], tt.why, e.overlays, len(e.backend.Decides()))
				}
			}
		})
	}
}

// Every global flag of runc (1.1 to 1.4) before a create, and what
// confine-runc makes of it. runc always gets it as given.
func TestEveryRuncGlobalFlag(t *testing.T) {
	tests := []struct {
		name  string
		flags []string
		// check looks at what confine-runc did; nil: only that it
		// injected and passed the flag on.
		check func(t *testing.T, e *env)
		pass  bool // the command line starts nothing: passed through
	}{
		{name: "--root: runc's state directory, part of the container's identity", flags: []string{"--root", "/run/other-root"},
			check: func(t *testing.T, e *env) {
				o, err := hooks.ReadOrigin(filepath.Dir(e.overlays[0][0]))
				if err != nil || o.Root != "/run/other-root" {
					t.Errorf("origin = %+v, %v; want root /run/other-root", o, err)
				}
				if filepath.Dir(e.overlays[0][0]) != hooks.CopyDir(e.cfg.RunDir, "/run/other-root", "c1") {
					t.Errorf("copy %s not under the root's own directory", e.overlays[0][0])
				}
			}},
		{name: "--log: where confine-runc's messages go", flags: []string{"--log", "{bundle}/log.json"},
			check: func(t *testing.T, e *env) {
				if !strings.Contains(e.logText(), "injected into") {
					t.Errorf("log.json = %q", e.logText())
				}
			}},
		{name: "--log-format text", flags: []string{"--log", "{bundle}/log.json", "--log-format", "text"},
			check: func(t *testing.T, e *env) {
				if !strings.HasPrefix(e.logText(), "time=") {
					t.Errorf("log.json = %q, want logrus text", e.logText())
				}
			}},
		{name: "no --log: messages in run_dir, never on stderr", flags: nil,
			check: func(t *testing.T, e *env) {
				data, _ := os.ReadFile(filepath.Join(e.cfg.RunDir, LogFile))
				if !strings.Contains(string(data), "injected into") || e.stderr.Len() != 0 {
					t.Errorf("run_dir log %q, stderr %q", data, e.stderr.String())
				}
			}},
		{name: "--debug: passed on", flags: []string{"--debug"}},
		{name: "--criu: passed on", flags: []string{"--criu", "/usr/sbin/criu"}},
		{name: "--systemd-cgroup: passed on", flags: []string{"--systemd-cgroup"}},
		{name: "--rootless: passed on", flags: []string{"--rootless", "false"}},
		{name: "unknown global flag: passed on", flags: []string{"--some-new-flag=x"}},
		{name: "--help: help, starts nothing", flags: []string{"--help"}, pass: true},
		{name: "-h: help, starts nothing", flags: []string{"-h"}, pass: true},
		{name: "--version: starts nothing", flags: []string{"--version"}, pass: true},
		{name: "-v: starts nothing", flags: []string{"-v"}, pass: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, config.FailClosed, true)
			args := []string{"/usr/local/bin/confine-runc"}
			for _, f := range tt.flags {
				args = append(args, strings.ReplaceAll(f, "{bundle}", e.bundle))
			}
			args = append(args, "create", "--bundle", e.bundle, "c1")
			if err := e.wrapper(args).Run(context.Background()); err != nil {
				t.Fatalf("Run: %v", err)
			}
			e.assertExecOriginal(args)
			e.assertUnchanged()
			if tt.pass {
				if len(e.overlays) != 0 || len(e.backend.Decides()) != 0 {
					t.Errorf("want passed through, got overlays %v", e.overlays)
				}
				return
			}
			if len(e.overlays) != 1 || len(e.backend.Decides()) != 1 {
				t.Fatalf("not injected: overlays %v", e.overlays)
			}
			if tt.check != nil {
				tt.check(t, e)
			}
		})
	}
}

// runc's own help decides whether a flag unknown here is one runc knows.
func TestHelpListsFlag(t *testing.T) {
	help := `NAME:
   runc create - create a container

OPTIONS:
   --bundle value, -b value  path to the root of the bundle directory, defaults to the current directory
   --console-socket value    path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal
   --pidfd-socket value      path to an AF_UNIX socket which will receive a file descriptor referencing the init process
   --no-pivot                do not use pivot root to jail process inside rootfs.
`
	for flag, want := range map[string]bool{
		"bundle": true, "b": true, "console-socket": true, "pidfd-socket": true, "no-pivot": true,
		"frobnicate": false, "value": false, "path": false, "": false,
	} {
		if got := helpListsFlag(help, flag); got != want {
			t.Errorf("helpListsFlag(%q) = %v, want %v", flag, got, want)
		}
	}
}
