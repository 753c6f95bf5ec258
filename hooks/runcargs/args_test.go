package runcargs

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const (
	ctrdBundle = "/run/containerd/io.containerd.runtime.v2.task/default/c1"
	mobyBundle = "/run/containerd/io.containerd.runtime.v2.task/moby/0123abcd"
)

// ctrdGlobals is what containerd-shim-runc-v2 (containerd 1.6.20) puts
// before every command.
var ctrdGlobals = []string{"--root", "/run/containerd/runc/default", "--log", ctrdBundle + "/log.json", "--log-format", "json"}

func args(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestParseArgs(t *testing.T) {
	ctrd := Invocation{Root: "/run/containerd/runc/default", Log: ctrdBundle + "/log.json", LogFormat: "json", CommandIndex: 6}
	with := func(inv Invocation, f func(*Invocation)) Invocation { f(&inv); return inv }
	tests := []struct {
		name string
		argv []string
		want Invocation
	}{
		{
			name: "containerd create",
			argv: args(ctrdGlobals, []string{"create", "--bundle", ctrdBundle, "--pid-file", ctrdBundle + "/init.pid", "c1"}),
			want: with(ctrd, func(i *Invocation) {
				i.Command, i.Bundle, i.PidFile, i.ID = "create", ctrdBundle, ctrdBundle+"/init.pid", "c1"
			}),
		},
		{
			name: "containerd create with terminal and systemd cgroup",
			argv: args(ctrdGlobals, []string{"--systemd-cgroup", "create", "--bundle", ctrdBundle, "--console-socket", "/tmp/pty123/pty.sock", "--pid-file", ctrdBundle + "/init.pid", "c1"}),
			want: with(ctrd, func(i *Invocation) {
				i.SystemdCgroup, i.CommandIndex = true, 7
				i.Command, i.Bundle, i.PidFile, i.ConsoleSocket, i.ID = "create", ctrdBundle, ctrdBundle+"/init.pid", "/tmp/pty123/pty.sock", "c1"
			}),
		},
		{
			name: "dockerd 20.10 create",
			argv: []string{"--root", "/var/run/docker/runtime-runc/moby", "--log", mobyBundle + "/log.json", "--log-format", "json", "create", "--bundle", mobyBundle, "--pid-file", mobyBundle + "/init.pid", "0123abcd"},
			want: Invocation{Root: "/var/run/docker/runtime-runc/moby", Log: mobyBundle + "/log.json", LogFormat: "json", Command: "create", CommandIndex: 6, Bundle: mobyBundle, PidFile: mobyBundle + "/init.pid", ID: "0123abcd"},
		},
		{
			name: "bundle as -b",
			argv: []string{"create", "-b", "/b", "x"},
			want: Invocation{Command: "create", CommandIndex: 0, Bundle: "/b", ID: "x"},
		},
		{
			name: "bundle as --bundle=",
			argv: []string{"create", "--bundle=/b", "x"},
			want: Invocation{Command: "create", CommandIndex: 0, Bundle: "/b", ID: "x"},
		},
		{
			name: "bundle as -b=",
			argv: []string{"create", "-b=/b", "x"},
			want: Invocation{Command: "create", CommandIndex: 0, Bundle: "/b", ID: "x"},
		},
		{
			name: "bundle as single-dash long flag",
			argv: []string{"create", "-bundle", "/b", "x"},
			want: Invocation{Command: "create", CommandIndex: 0, Bundle: "/b", ID: "x"},
		},
		{
			name: "no bundle: working directory",
			argv: []string{"create", "x"},
			want: Invocation{Command: "create", CommandIndex: 0, ID: "x"},
		},
		{
			name: "flags after the id (runc reorders them)",
			argv: []string{"create", "x", "--bundle", "/b", "--pid-file=/p"},
			want: Invocation{Command: "create", CommandIndex: 0, Bundle: "/b", PidFile: "/p", ID: "x"},
		},
		{
			name: "id after --",
			argv: []string{"create", "-b", "/b", "--", "-weird"},
			want: Invocation{Command: "create", CommandIndex: 0, Bundle: "/b", ID: "-weird"},
		},
		{
			name: "boolean create flags",
			argv: []string{"create", "--no-pivot", "--no-new-keyring=true", "--preserve-fds", "2", "-b", "/b", "x"},
			want: Invocation{Command: "create", CommandIndex: 0, Bundle: "/b", ID: "x"},
		},
		{
			name: "run with its own flags",
			argv: []string{"--root=/r", "run", "-d", "--keep", "--no-subreaper", "--bundle", "/b", "x"},
			want: Invocation{Root: "/r", Command: "run", CommandIndex: 1, Bundle: "/b", ID: "x"},
		},
		{
			name: "global flags in = form and single dash",
			argv: []string{"-root=/r", "--log=/l", "-log-format", "text", "--debug", "--criu=/c", "--rootless", "false", "create", "x"},
			want: Invocation{Root: "/r", Log: "/l", LogFormat: "text", Debug: true, Criu: "/c", Rootless: "false", Command: "create", CommandIndex: 8, ID: "x"},
		},
		{
			name: "boolean global set to false",
			argv: []string{"--debug=false", "--systemd-cgroup=true", "state", "x"},
			want: Invocation{SystemdCgroup: true, Command: "state", CommandIndex: 2},
		},
		{
			name: "unknown boolean global before the command",
			argv: []string{"--new-bool", "create", "-b", "/b", "x"},
			want: Invocation{UnknownGlobals: []string{"--new-bool"}, Command: "create", CommandIndex: 1, Bundle: "/b", ID: "x"},
		},
		{
			name: "unknown global with a value",
			argv: []string{"--new-opt", "val", "--other=v", "create", "x"},
			want: Invocation{UnknownGlobals: []string{"--new-opt", "val", "--other=v"}, Command: "create", CommandIndex: 3, ID: "x"},
		},
		{
			name: "containerd start", argv: args(ctrdGlobals, []string{"start", "c1"}),
			want: with(ctrd, func(i *Invocation) { i.Command = "start" }),
		},
		{
			name: "containerd exec", argv: args(ctrdGlobals, []string{"exec", "--process", "/tmp/runc-process1", "--detach", "--pid-file", ctrdBundle + "/e1.pid", "c1"}),
			want: with(ctrd, func(i *Invocation) { i.Command = "exec" }),
		},
		{
			name: "containerd ps", argv: args(ctrdGlobals, []string{"ps", "--format", "json", "c1"}),
			want: with(ctrd, func(i *Invocation) { i.Command = "ps" }),
		},
		{
			name: "containerd kill all", argv: args(ctrdGlobals, []string{"kill", "--all", "c1", "9"}),
			want: with(ctrd, func(i *Invocation) { i.Command = "kill" }),
		},
		{
			name: "containerd delete force", argv: args(ctrdGlobals, []string{"delete", "--force", "c1"}),
			want: with(ctrd, func(i *Invocation) { i.Command = "delete" }),
		},
		{
			name: "pause", argv: args(ctrdGlobals, []string{"pause", "c1"}),
			want: with(ctrd, func(i *Invocation) { i.Command = "pause" }),
		},
		{
			name: "restore as containerd's shim runs it",
			argv: args(ctrdGlobals, []string{"restore", "--bundle", ctrdBundle, "--image-path", "/ckpt", "--work-path", "/work", "--detach", "--pid-file", ctrdBundle + "/init.pid", "--no-subreaper", "c1"}),
			want: with(ctrd, func(i *Invocation) {
				i.Command, i.Bundle, i.PidFile, i.ID = "restore", ctrdBundle, ctrdBundle+"/init.pid", "c1"
			}),
		},
		{
			name: "restore with its boolean and string flags",
			argv: []string{"restore", "--tcp-established", "--ext-unix-sk", "--shell-job", "--file-locks", "--manage-cgroups-mode", "soft", "--empty-ns", "network", "--auto-dedup", "--lazy-pages", "--lsm-profile", "x", "--lsm-mount-context", "y", "--console-socket", "/s", "-b", "/b", "r1"},
			want: Invocation{Command: "restore", CommandIndex: 0, Bundle: "/b", ConsoleSocket: "/s", ID: "r1"},
		},
		{
			name: "pidfd-socket (runc 1.2+)", argv: []string{"create", "--pidfd-socket", "/p.sock", "x"},
			want: Invocation{Command: "create", CommandIndex: 0, ID: "x"},
		},
		{
			name: "help=false starts the container", argv: []string{"run", "--help=false", "x"},
			want: Invocation{Command: "run", CommandIndex: 0, ID: "x"},
		},
		{
			name: "global help", argv: []string{"--help", "run", "x"},
			want: Invocation{Command: "run", CommandIndex: 1, ID: "x", Help: true},
		},
		{
			name: "version only", argv: []string{"--version"},
			want: Invocation{CommandIndex: -1, Version: true},
		},
		{
			name: "nothing", argv: nil,
			want: Invocation{CommandIndex: -1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseArgs(tt.argv)
			if err != nil {
				t.Fatalf("ParseArgs(%q): %v", tt.argv, err)
			}
			tt.want.Args = tt.argv
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ParseArgs(%q) mismatch (-want +got):\n%s", tt.argv, diff)
			}
		})
	}
}

func TestParseArgsErrors(t *testing.T) {
	tests := []struct {
		name    string
		argv    []string
		command string // what the partial Invocation still says
		errHas  string
	}{
		{name: "create without id", argv: []string{"create", "-b", "/b"}, command: "create", errHas: "exactly one container id, got 0"},
		{name: "create with two ids", argv: []string{"create", "x", "y"}, command: "create", errHas: "got 2"},
		{name: "create unknown flag", argv: []string{"create", "--frob", "x"}, command: "create", errHas: `unknown flag "--frob"`},
		{name: "run unknown flag", argv: []string{"run", "--zap=1", "x"}, command: "run", errHas: `unknown flag "--zap=1"`},
		{name: "detach is not a create flag", argv: []string{"create", "-d", "x"}, command: "create", errHas: `unknown flag "-d"`},
		{name: "bundle without value", argv: []string{"create", "x", "--bundle"}, command: "create", errHas: "--bundle needs a value"},
		{name: "global without value", argv: []string{"--root"}, command: "", errHas: "--root needs a value"},
		{name: "bad global boolean", argv: []string{"--debug=maybe", "create", "x"}, command: "", errHas: `invalid boolean "maybe"`},
		{name: "empty id", argv: []string{"create", ""}, command: "create", errHas: "empty container id"},
		{name: "restore unknown flag", argv: []string{"restore", "--keep", "x"}, command: "restore", errHas: `unknown flag "--keep"`},
		{name: "run -h has no id", argv: []string{"run", "-h"}, command: "run", errHas: "got 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseArgs(tt.argv)
			if err == nil {
				t.Fatalf("ParseArgs(%q) = %+v, want an error", tt.argv, got)
			}
			if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("error %q: want ErrUsage containing %q", err, tt.errHas)
			}
			if got.Command != tt.command {
				t.Errorf("Command = %q, want %q", got.Command, tt.command)
			}
		})
	}
}

func TestBundleDir(t *testing.T) {
	tests := []struct {
		name, bundle, cwd, want string
	}{
		{name: "absolute", bundle: "/b/c/", cwd: "/x", want: "/b/c"},
		{name: "relative", bundle: "c1", cwd: "/run/ns", want: "/run/ns/c1"},
		{name: "none", bundle: "", cwd: "/run/ns/c1/", want: "/run/ns/c1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Invocation{Bundle: tt.bundle}).BundleDir(tt.cwd); got != tt.want {
				t.Errorf("BundleDir = %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzParseArgs(f *testing.F) {
	f.Add(strings.Join(args(ctrdGlobals, []string{"create", "--bundle", ctrdBundle, "--pid-file", "/p", "c1"}), "\x00"))
	f.Add("--root\x00/r\x00run\x00-d\x00--\x00x")
	f.Add("create\x00-b=\x00x")
	f.Add("--x\x00--\x00create")
	f.Fuzz(func(t *testing.T, joined string) {
		argv := strings.Split(joined, "\x00")
		inv, err := ParseArgs(argv)
		if len(inv.Args) != len(argv) {
			t.Fatalf("Args changed: %q vs %q", inv.Args, argv)
		}
		if inv.CommandIndex >= 0 && (inv.CommandIndex >= len(argv) || argv[inv.CommandIndex] != inv.Command) {
			t.Fatalf("CommandIndex %d does not point at command %q in %q", inv.CommandIndex, inv.Command, argv)
		}
		if err == nil && inv.Creates() && inv.ID == "" {
			t.Fatalf("create parsed without an id: %q", argv)
		}
		if err != nil && !errors.Is(err, ErrUsage) {
			t.Fatalf("error %v is not ErrUsage", err)
		}
	})
}
