package proc

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Stat
		wantErr bool
	}{
		{
			name: "captured",
			in:   "12844 (sleep) S 12824 12844 12844 0 -1 4194560 665 341 0 0 0 0 0 0 20 0 1 0 450778 1003520 1 18446744073709551615 4194304 5101245 140737488345856 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n",
			want: Stat{PID: 12844, Comm: "sleep", State: 'S', PPID: 12824, Flags: 4194560, NumThreads: 1, StartTime: 450778},
		},
		{
			name: "comm with spaces and parentheses",
			in:   "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 3 0 99 0 0\n",
			want: Stat{PID: 7, Comm: "a) b (c)", State: 'R', PPID: 1, NumThreads: 3, StartTime: 99},
		},
		{
			name: "kernel thread",
			in:   "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0\n",
			want: Stat{PID: 2, Comm: "kthreadd", State: 'S', Flags: 2129984, NumThreads: 1, StartTime: 5},
		},
		{name: "empty", in: "", wantErr: true},
		{name: "no comm", in: "12 sleep S 1 2 3", wantErr: true},
		{name: "truncated", in: "12 (sleep) S 1 12 12 0 -1 0", wantErr: true},
		{name: "bad state", in: "7 (a) RR 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 3 0 99 0 0", wantErr: true},
		{name: "bad starttime", in: "7 (a) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 3 0 x 0 0", wantErr: true},
		{name: "negative ppid", in: "7 (a) R -1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 3 0 9 0 0", wantErr: true},
		{name: "bad pid", in: "x (a) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 3 0 9 0 0", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseStat() error = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrParse) {
				t.Errorf("error %v does not wrap ErrParse", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseStat() mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if !(Stat{Flags: 2129984}).KernelThread() || (Stat{Flags: 4194560}).KernelThread() {
		t.Error("KernelThread() wrong")
	}
	if !(Stat{State: 'Z'}).Zombie() || (Stat{State: 'S'}).Zombie() {
		t.Error("Zombie() wrong")
	}
}

func TestParseStatus(t *testing.T) {
	const minimal = "Uid:\t1\t2\t3\t4\nGid:\t5\t6\t7\t8\nCapInh:\t0\nCapPrm:\t1\nCapEff:\t3\nCapBnd:\tffffffffff\nCapAmb:\t0\n"
	tests := []struct {
		name    string
		in      string
		want    Status
		wantErr bool
	}{
		{
			name: "minimal, old kernel without NSpid or Seccomp",
			in:   minimal,
			want: Status{UID: IDs{1, 2, 3, 4}, GID: IDs{5, 6, 7, 8}, CapPrm: 1, CapEff: 3, CapBnd: 0xffffffffff},
		},
		{
			name: "nested pid namespaces",
			in:   "Name:\tweird name\n" + minimal + "NSpid:\t100\t10\t1\nNoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t3\n",
			want: Status{Name: "weird name", UID: IDs{1, 2, 3, 4}, GID: IDs{5, 6, 7, 8}, CapPrm: 1, CapEff: 3, CapBnd: 0xffffffffff,
				NoNewPrivs: true, Seccomp: SeccompFilter, NSpid: []int{100, 10, 1}},
		},
		{name: "missing CapEff", in: "Uid:\t1\t2\t3\t4\nGid:\t5\t6\t7\t8\nCapInh:\t0\nCapPrm:\t1\nCapBnd:\t0\n", wantErr: true},
		{name: "three uids", in: "Uid:\t1\t2\t3\n" + minimal, wantErr: true},
		{name: "bad cap hex", in: minimal + "CapEff:\tzz\n", wantErr: true},
		{name: "cap too long", in: minimal + "CapEff:\t00000000000000001\n", wantErr: true},
		{name: "bad seccomp", in: minimal + "Seccomp:\t7\n", wantErr: true},
		{name: "bad NoNewPrivs", in: minimal + "NoNewPrivs:\tyes\n", wantErr: true},
		{name: "empty NSpid", in: minimal + "NSpid:\t\n", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatus([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseStatus() error = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrParse) {
				t.Errorf("error %v does not wrap ErrParse", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseStatus() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseExeLink(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Exe
	}{
		{"plain", "/bin/busybox", Exe{Path: "/bin/busybox"}},
		{"deleted", "/tmp/busybox (deleted)", Exe{Path: "/tmp/busybox", Deleted: true}},
		{"memfd", "/memfd:payload (deleted)", Exe{Path: "/memfd:payload", Deleted: true, Memfd: true}},
		{"memfd with spaces in the name", "/memfd:a b (deleted)", Exe{Path: "/memfd:a b", Deleted: true, Memfd: true}},
		{"deleted in the middle is a name", "/opt/x (deleted)/bin", Exe{Path: "/opt/x (deleted)/bin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseExeLink(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseExeLink() mismatch (-want +got):\n%s", diff)
			}
			if got.Fileless() != (tt.want.Deleted || tt.want.Memfd) {
				t.Errorf("Fileless() = %v", got.Fileless())
			}
		})
	}
}

func TestContainerPath(t *testing.T) {
	tests := []struct {
		name string
		root string
		path string
		want string
	}{
		// Captured: a runc container's processes read from the host.
		{"runc container, pivot_root", "/", "/bin/busybox", "/bin/busybox"},
		{"chroot inside a runc container keeps the container view", "/", "/tmp/jail/bin/busybox", "/tmp/jail/bin/busybox"},
		// Captured: chroot /tmp/x on the host.
		{"host chroot", "/tmp/x", "/tmp/x/bin/busybox", "/bin/busybox"},
		{"root with trailing slash", "/tmp/x/", "/tmp/x/bin/busybox", "/bin/busybox"},
		{"the root itself", "/tmp/x", "/tmp/x", "/"},
		{"sibling with the root as prefix", "/tmp/x", "/tmp/xy/bin/sh", "/tmp/xy/bin/sh"},
		{"outside the root", "/tmp/x", "/usr/bin/env", "/usr/bin/env"},
		{"not a path", "/tmp/x", "pipe:[123]", "pipe:[123]"},
		{"unknown root", "", "/bin/sh", "/bin/sh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ContainerPath(tt.root, tt.path); got != tt.want {
				t.Errorf("ContainerPath(%q, %q) = %q, want %q", tt.root, tt.path, got, tt.want)
			}
		})
	}
}

func TestParseNSLink(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		kind    string
		ino     uint64
		wantErr bool
	}{
		{name: "net", in: "net:[4026531992]", kind: "net", ino: 4026531992},
		{name: "pid_for_children", in: "pid_for_children:[4026532253]", kind: "pid_for_children", ino: 4026532253},
		{name: "no brackets", in: "net:4026531992", wantErr: true},
		{name: "no kind", in: ":[1]", wantErr: true},
		{name: "bad inode", in: "net:[x]", wantErr: true},
		{name: "unterminated", in: "net:[1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, ino, err := parseNSLink(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseNSLink(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if kind != tt.kind || ino != tt.ino {
				t.Errorf("parseNSLink(%q) = %q, %d, want %q, %d", tt.in, kind, ino, tt.kind, tt.ino)
			}
		})
	}
}

func TestParseCgroup(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []CgroupLine
		wantErr bool
	}{
		{
			name: "hybrid, captured",
			in:   "9:name=systemd:/cproc/cproc-c1\n1:cpu:/cproc/cproc-c1\n0::/cproc/cproc-c1\n",
			want: []CgroupLine{
				{9, []string{"name=systemd"}, "/cproc/cproc-c1"},
				{1, []string{"cpu"}, "/cproc/cproc-c1"},
				{0, nil, "/cproc/cproc-c1"},
			},
		},
		{
			name: "comounted controllers",
			in:   "4:cpu,cpuacct:/docker/abc\n",
			want: []CgroupLine{{4, []string{"cpu", "cpuacct"}, "/docker/abc"}},
		},
		{
			name: "path with a colon",
			in:   "0::/weird:path\n",
			want: []CgroupLine{{0, nil, "/weird:path"}},
		},
		{name: "v2 only", in: "0::/\n", want: []CgroupLine{{0, nil, "/"}}},
		{name: "empty", in: "", want: nil},
		{name: "two fields", in: "0:/x\n", wantErr: true},
		{name: "bad id", in: "x::/\n", wantErr: true},
		{name: "relative path", in: "0::x\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCgroup([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseCgroup() error = %v, wantErr %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseCgroup() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

const (
	id64  = "4f2b9c1e0d3a5b6c7d8e9f00112233445566778899aabbccddeeff0011223344"
	podID = "pod8c1ab3d0-1b2f-4c1c-9b3a-0d1e2f3a4b5c"
)

func TestContainerFromCgroupPath(t *testing.T) {
	tests := []struct {
		name string
		path string
		ns   string
		id   string
		ok   bool
	}{
		// Captured here (ctr run, containerd 1.6.20, cgroupfs driver), v1 and v2 alike.
		{name: "containerd cgroupfs", path: "/cproc/cproc-c1", ns: "cproc", id: "cproc-c1", ok: true},
		{name: "containerd default namespace", path: "/default/redis", ns: "default", id: "redis", ok: true},
		{name: "sub-cgroup inside a container (v2 nesting)", path: "/cproc/cproc-c1/system.slice/foo.service", ns: "cproc", id: "cproc-c1", ok: true},
		{name: "host root", path: "/", ok: false},
		{name: "only a namespace level", path: "/cproc", ok: false},
		// Docker (namespace moby): runc's cgroupsPath "/docker/<id>" or "system.slice:docker:<id>".
		{name: "docker cgroupfs", path: "/docker/" + id64, ns: NamespaceMoby, id: id64, ok: true},
		{name: "docker in docker attributes to the outer container", path: "/docker/" + id64 + "/docker/abc", ns: NamespaceMoby, id: id64, ok: true},
		{name: "docker systemd", path: "/system.slice/docker-" + id64 + ".scope", ns: NamespaceMoby, id: id64, ok: true},
		{name: "docker systemd, systemd inside the container", path: "/system.slice/docker-" + id64 + ".scope/init.scope", ns: NamespaceMoby, id: id64, ok: true},
		// containerd's CRI plugin (namespace k8s.io).
		{name: "CRI systemd", path: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod8c1ab3d0_1b2f_4c1c_9b3a_0d1e2f3a4b5c.slice/cri-containerd-" + id64 + ".scope", ns: NamespaceK8s, id: id64, ok: true},
		{name: "CRI systemd, guaranteed pod", path: "/kubepods.slice/kubepods-pod8c1ab3d0_1b2f.slice/cri-containerd-" + id64 + ".scope", ns: NamespaceK8s, id: id64, ok: true},
		{name: "CRI cgroupfs", path: "/kubepods/burstable/" + podID + "/" + id64, ns: NamespaceK8s, id: id64, ok: true},
		{name: "CRI cgroupfs, guaranteed pod", path: "/kubepods/" + podID + "/" + id64, ns: NamespaceK8s, id: id64, ok: true},
		{name: "CRI pod cgroup itself", path: "/kubepods/burstable/" + podID, ok: false},
		// nerdctl, systemd driver: "system.slice:nerdctl:<id>", namespace not encoded.
		{name: "nerdctl systemd", path: "/system.slice/nerdctl-" + id64 + ".scope", ns: "", id: id64, ok: true},
		{name: "rootless nerdctl", path: "/user.slice/user-1001.slice/user@1001.service/user.slice/nerdctl-" + id64 + ".scope", ns: "", id: id64, ok: true},
		// Not containers.
		{name: "containerd's own service (shims live here)", path: "/system.slice/containerd.service", ok: false},
		{name: "a systemd service", path: "/system.slice/ssh.service", ok: false},
		{name: "a login session", path: "/user.slice/user-1000.slice/session-3.scope", ok: false},
		{name: "podman is not containerd", path: "/machine.slice/libpod-" + id64 + ".scope", ok: false},
		{name: "init scope", path: "/init.scope", ok: false},
		{name: "kubepods without a container", path: "/kubepods.slice", ok: false},
		{name: "invalid identifier", path: "/ns/bad id", ok: false},
		// A reader in a child cgroup namespace.
		{name: "above the reader's cgroup namespace root", path: "/../../cproc/cproc-c1", ns: "cproc", id: "cproc-c1", ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns, id, ok := ContainerFromCgroupPath(tt.path)
			if ns != tt.ns || id != tt.id || ok != tt.ok {
				t.Errorf("ContainerFromCgroupPath(%q) = %q, %q, %v, want %q, %q, %v", tt.path, ns, id, ok, tt.ns, tt.id, tt.ok)
			}
		})
	}
}

func TestContainerFromCgroup(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ns   string
		id   string
		ok   bool
	}{
		{
			name: "hybrid: the unified line wins",
			in:   "4:memory:/other/thing\n0::/cproc/cproc-c1\n",
			ns:   "cproc", id: "cproc-c1", ok: true,
		},
		{
			name: "pure v1 docker",
			in:   "12:pids:/docker/" + id64 + "\n1:name=systemd:/docker/" + id64 + "\n",
			ns:   NamespaceMoby, id: id64, ok: true,
		},
		{
			name: "v1 lines when the unified one is at the root",
			in:   "9:name=systemd:/\n4:memory:/cproc/cproc-c1\n0::/\n",
			ns:   "cproc", id: "cproc-c1", ok: true,
		},
		{
			name: "a host process (captured)",
			in:   "9:name=systemd:/\n8:pids:/\n4:memory:/\n0::/\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines, err := parseCgroup([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			ns, id, ok := ContainerFromCgroup(lines)
			if ns != tt.ns || id != tt.id || ok != tt.ok {
				t.Errorf("ContainerFromCgroup() = %q, %q, %v, want %q, %q, %v", ns, id, ok, tt.ns, tt.id, tt.ok)
			}
		})
	}
}

func TestCgroupPathFromSpec(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{name: "containerd default (captured)", in: "/cproc/cproc-c1", want: "/cproc/cproc-c1"},
		{name: "relative cgroupfs", in: "cproc/c1", want: "/cproc/c1"},
		{name: "docker systemd", in: "system.slice:docker:" + id64, want: "/system.slice/docker-" + id64 + ".scope"},
		{name: "CRI systemd", in: "kubepods-burstable-pod123.slice:cri-containerd:abc", want: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod123.slice/cri-containerd-abc.scope"},
		{name: "empty slice defaults to system.slice", in: ":nerdctl:abc", want: "/system.slice/nerdctl-abc.scope"},
		{name: "root slice", in: "-.slice:p:abc", want: "/p-abc.scope"},
		{name: "no prefix", in: "system.slice::abc", want: "/system.slice/abc.scope"},
		{name: "name is a slice", in: "system.slice:p:my.slice", want: "/system.slice/my.slice"},
		{name: "empty", in: "", wantErr: true},
		{name: "bad slice", in: "system:docker:abc", wantErr: true},
		{name: "bad slice with empty part", in: "a--b.slice:docker:abc", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CgroupPathFromSpec(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("CgroupPathFromSpec(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("CgroupPathFromSpec(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestInCgroup(t *testing.T) {
	lines := []CgroupLine{{4, []string{"memory"}, "/"}, {0, nil, "/cproc/c1/sub"}}
	tests := []struct {
		name string
		path string
		want bool
	}{
		{"exact", "/cproc/c1/sub", true},
		{"parent", "/cproc/c1", true},
		{"parent with trailing slash", "/cproc/c1/", true},
		{"sibling with a common prefix", "/cproc/c", false},
		{"other", "/cproc/c2", false},
		{"root", "/", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := InCgroup(lines, tt.path); got != tt.want {
				t.Errorf("InCgroup(%q) = %v, want %v", tt.path, got, tt.want)
			}
		})
	}
}

func TestParseFdinfo(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    fdInfo
		wantErr bool
	}{
		{name: "file (captured)", in: "pos:\t0\nflags:\t0102001\nmnt_id:\t93\nino:\t9978707\n", want: fdInfo{Flags: 0o102001, MntID: 93}},
		{name: "eventfd extra lines", in: "pos:\t5\nflags:\t02004002\nmnt_id:\t16\nino:\t1\neventfd-count:\t0\n", want: fdInfo{Pos: 5, Flags: 0o2004002, MntID: 16}},
		{name: "no flags", in: "pos:\t0\nmnt_id:\t1\n", wantErr: true},
		{name: "flags not octal", in: "flags:\t0109\n", wantErr: true},
		{name: "bad pos", in: "pos:\tx\nflags:\t0\n", wantErr: true},
		{name: "bad mnt_id", in: "flags:\t0\nmnt_id:\tx\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFdinfo([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseFdinfo() error = %v, wantErr %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseFdinfo() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseNet(t *testing.T) {
	ap := netip.MustParseAddrPort
	const h4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	const h6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	tests := []struct {
		name    string
		proto   Proto
		in      string
		want    []Socket
		wantErr bool
	}{
		{
			name: "IPv4 listen and established (captured)", proto: TCP,
			in: h4 +
				"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 21678 1 00000000cb090519 100 0 0 10 0\n" +
				"   1: 0100007F:CA12 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 32881 1 000000008e3 20 0 0 10 -1\n",
			want: []Socket{
				{Proto: TCP, Local: ap("127.0.0.1:8080"), Remote: ap("0.0.0.0:0"), State: StateListen, Inode: 21678},
				{Proto: TCP, Local: ap("127.0.0.1:51730"), Remote: ap("127.0.0.1:8080"), State: StateEstablished, Inode: 32881},
			},
		},
		{
			name: "IPv6 word order (captured: fd00::2 to 2001:db8::1234:5678)", proto: UDP6,
			in:   h6 + "15308: 000000FD000000000000000002000000:D766 B80D0120000000000000000078563412:01BB 01 00000000:00000000 00:00000000 00000000 65534        0 28326 2 0000000000000000 0\n",
			want: []Socket{{Proto: UDP6, Local: ap("[fd00::2]:55142"), Remote: ap("[2001:db8::1234:5678]:443"), State: StateEstablished, UID: 65534, Inode: 28326}},
		},
		{
			name: "time wait has no inode (captured)", proto: TCP6,
			in:   h6 + "   0: 00000000000000000000000001000000:2382 00000000000000000000000001000000:90EC 06 00000000:00000000 03:000016D4 00000000     0        0 0 3 000000004553660a\n",
			want: []Socket{{Proto: TCP6, Local: ap("[::1]:9090"), Remote: ap("[::1]:37100"), State: StateTimeWait}},
		},
		{name: "header only", proto: UDP, in: h4, want: nil},
		{name: "no header", proto: TCP, in: "   0: 0100007F:1F90 00000000:0000 0A 0 0 0 0 0 1\n", wantErr: true},
		{name: "short line", proto: TCP, in: h4 + "   0: 0100007F:1F90 00000000:0000 0A\n", wantErr: true},
		{name: "IPv6 address in an IPv4 table", proto: TCP, in: h4 + "   0: 00000000000000000000000001000000:1F90 00000000:0000 0A 0 0 0 0 0 1\n", wantErr: true},
		{name: "bad hex", proto: TCP, in: h4 + "   0: 0100007G:1F90 00000000:0000 0A 0 0 0 0 0 1\n", wantErr: true},
		{name: "bad port", proto: TCP, in: h4 + "   0: 0100007F:1FZ0 00000000:0000 0A 0 0 0 0 0 1\n", wantErr: true},
		{name: "bad state", proto: TCP, in: h4 + "   0: 0100007F:1F90 00000000:0000 XX 0 0 0 0 0 1\n", wantErr: true},
		{name: "bad uid", proto: TCP, in: h4 + "   0: 0100007F:1F90 00000000:0000 0A 0 0 0 u 0 1\n", wantErr: true},
		{name: "bad inode", proto: TCP, in: h4 + "   0: 0100007F:1F90 00000000:0000 0A 0 0 0 0 0 i\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseNet([]byte(tt.in), tt.proto)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseNet() error = %v, wantErr %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, cmpAddr); diff != "" {
				t.Errorf("parseNet() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSocketStates(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name      string
		s         Socket
		listening bool
		connected bool
	}{
		{"tcp listen", Socket{Proto: TCP, Local: ap("0.0.0.0:80"), State: StateListen}, true, false},
		{"tcp established", Socket{Proto: TCP6, Local: ap("[::1]:5"), Remote: ap("[::1]:6"), State: StateEstablished}, false, true},
		{"tcp connecting", Socket{Proto: TCP, Local: ap("10.0.0.1:40000"), Remote: ap("10.0.0.2:5432"), State: StateSynSent}, false, true},
		{"tcp time wait", Socket{Proto: TCP, Local: ap("10.0.0.1:40000"), Remote: ap("10.0.0.2:5432"), State: StateTimeWait}, false, false},
		{"udp server", Socket{Proto: UDP, Local: ap("0.0.0.0:53"), Remote: ap("0.0.0.0:0"), State: StateClose}, true, false},
		{"udp6 server", Socket{Proto: UDP6, Local: ap("[::]:15300"), Remote: ap("[::]:0"), State: StateClose}, true, false},
		{"udp autobound client on an ephemeral port", Socket{Proto: UDP, Local: ap("0.0.0.0:45000"), Remote: ap("0.0.0.0:0"), State: StateClose}, false, false},
		{"udp connected", Socket{Proto: UDP, Local: ap("127.0.0.1:60678"), Remote: ap("127.0.0.53:53"), State: StateEstablished}, false, true},
		{"udp unbound", Socket{Proto: UDP, Local: ap("0.0.0.0:0"), Remote: ap("0.0.0.0:0"), State: StateClose}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Listening(); got != tt.listening {
				t.Errorf("Listening() = %v, want %v", got, tt.listening)
			}
			if got := tt.s.Connected(); got != tt.connected {
				t.Errorf("Connected() = %v, want %v", got, tt.connected)
			}
		})
	}
	if StateListen.String() != "LISTEN" || SocketState(0x42).String() != "STATE_42" {
		t.Error("SocketState.String() wrong")
	}
}

// seedFromFixtures adds every fixture file named name as a fuzz seed.
func seedFromFixtures(f *testing.F, name string) {
	matches, _ := filepath.Glob(filepath.Join(fixtures, "*", name))
	for _, m := range matches {
		if b, err := os.ReadFile(m); err == nil {
			f.Add(b)
		}
	}
}

func FuzzParseStat(f *testing.F) {
	seedFromFixtures(f, "stat")
	f.Add([]byte("7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 3 0 99 0 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseStat(b)
		if err != nil && !errors.Is(err, ErrParse) {
			t.Fatalf("error %v does not wrap ErrParse", err)
		}
		if err == nil && (s.PID < 0 || s.PPID < 0) {
			t.Fatalf("negative ids: %+v", s)
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	seedFromFixtures(f, "status")
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := parseStatus(b); err != nil && !errors.Is(err, ErrParse) {
			t.Fatalf("error %v does not wrap ErrParse", err)
		}
	})
}

func FuzzParseCgroup(f *testing.F) {
	seedFromFixtures(f, "cgroup")
	f.Add([]byte("0::/kubepods.slice/kubepods-besteffort.slice/cri-containerd-" + id64 + ".scope\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		lines, err := parseCgroup(b)
		if err != nil {
			if !errors.Is(err, ErrParse) {
				t.Fatalf("error %v does not wrap ErrParse", err)
			}
			return
		}
		ns, id, ok := ContainerFromCgroup(lines)
		if ok && (id == "" || (ns != "" && !validIdentifier(ns)) || !validIdentifier(id)) {
			t.Fatalf("attributed to invalid %q/%q", ns, id)
		}
	})
}

func FuzzParseFdinfo(f *testing.F) {
	seedFromFixtures(f, "fdinfo/3")
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := parseFdinfo(b); err != nil && !errors.Is(err, ErrParse) {
			t.Fatalf("error %v does not wrap ErrParse", err)
		}
	})
}

func FuzzParseNet(f *testing.F) {
	for _, p := range Protos {
		seedFromFixtures(f, "net/"+string(p))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, p := range Protos {
			socks, err := parseNet(b, p)
			if err != nil {
				if !errors.Is(err, ErrParse) {
					t.Fatalf("error %v does not wrap ErrParse", err)
				}
				continue
			}
			for _, s := range socks {
				if s.Local.Addr().Is6() != p.IPv6() || s.Remote.Addr().Is6() != p.IPv6() {
					t.Fatalf("%s socket with wrong address family: %+v", p, s)
				}
			}
		}
	})
}

func FuzzParseLinks(f *testing.F) {
	for _, s := range []string{"net:[4026531992]", "/bin/busybox", "/memfd:x (deleted)", "socket:[1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if _, _, err := parseNSLink(s); err != nil && !errors.Is(err, ErrParse) {
			t.Fatalf("error %v does not wrap ErrParse", err)
		}
		e := parseExeLink(s)
		if e.Deleted && e.Path+deletedSuffix != s {
			t.Fatalf("parseExeLink(%q) = %+v", s, e)
		}
		if got := ContainerPath("/", s); got != s {
			t.Fatalf("ContainerPath(/, %q) = %q", s, got)
		}
		if _, ok := (Fd{Target: s}).SocketInode(); ok && s[:8] != "socket:[" {
			t.Fatalf("SocketInode accepted %q", s)
		}
	})
}

// TestContainerCgroupPath: the container's own cgroup among a process's
// lines, the unified one first; another container's or a host cgroup is
// not it.
func TestContainerCgroupPath(t *testing.T) {
	for _, tt := range []struct {
		name, cgroup, ns, id, want string
		ok                         bool
	}{
		{name: "hybrid, containerd", cgroup: "1:cpu:/cproc/c1\n0::/cproc/c1\n", ns: "cproc", id: "c1", want: "/cproc/c1", ok: true},
		{name: "v1 only", cgroup: "4:memory:/default/web\n2:freezer:/default/web\n", ns: "default", id: "web", want: "/default/web", ok: true},
		{name: "docker, systemd driver", cgroup: "0::/system.slice/docker-abc.scope\n", ns: "moby", id: "abc", want: "/system.slice/docker-abc.scope", ok: true},
		{name: "nerdctl scope: any namespace", cgroup: "0::/system.slice/nerdctl-abc.scope\n", ns: "default", id: "abc", want: "/system.slice/nerdctl-abc.scope", ok: true},
		{name: "another container", cgroup: "0::/cproc/c2\n", ns: "cproc", id: "c1"},
		{name: "another namespace", cgroup: "0::/other/c1\n", ns: "cproc", id: "c1"},
		{name: "host", cgroup: "0::/user.slice/user-0.slice/session-1.scope\n", ns: "cproc", id: "c1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lines, err := parseCgroup([]byte(tt.cgroup))
			if err != nil {
				t.Fatal(err)
			}
			got, ok := ContainerCgroupPath(lines, tt.ns, tt.id)
			if got != tt.want || ok != tt.ok {
				t.Errorf("ContainerCgroupPath = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
