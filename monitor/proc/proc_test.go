package proc

import (
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const fixtures = "../../testdata/proc"

// cmpAddr compares netip values, whose fields are unexported.
var cmpAddr = cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })

func fixtureFS(t *testing.T) FS {
	t.Helper()
	fs, err := NewFS(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func open(t *testing.T, fs FS, pid int) Proc {
	t.Helper()
	p, err := fs.Proc(pid)
	if err != nil {
		t.Fatalf("Proc(%d): %v", pid, err)
	}
	return p
}

func TestNewFS(t *testing.T) {
	if _, err := NewFS(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("NewFS of a missing directory succeeded")
	}
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewFS(f); err == nil {
		t.Error("NewFS of a file succeeded")
	}
}

func TestAllPIDs(t *testing.T) {
	got, err := fixtureFS(t).AllPIDs()
	if err != nil {
		t.Fatal(err)
	}
	want := []int{12844, 12857, 12867, 16861, 18334, 18666, 20157, 20577}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AllPIDs() mismatch (-want +got):\n%s", diff)
	}
}

func TestProcNotExist(t *testing.T) {
	_, err := fixtureFS(t).Proc(4242)
	if !errors.Is(err, ErrNotExist) {
		t.Errorf("Proc(4242) error = %v, want ErrNotExist", err)
	}
}

func TestProcKey(t *testing.T) {
	fs := fixtureFS(t)
	p, err := fs.ProcKey(Key{PID: 12844, StartTime: 450778})
	if err != nil {
		t.Fatal(err)
	}
	if p.Key() != (Key{PID: 12844, StartTime: 450778}) || p.PID() != 12844 {
		t.Errorf("Key() = %v", p.Key())
	}
	if _, err := fs.ProcKey(Key{PID: 12844, StartTime: 1}); !errors.Is(err, ErrGone) {
		t.Errorf("ProcKey with another start time: error = %v, want ErrGone", err)
	}
	if _, err := fs.ProcKey(Key{PID: 4242, StartTime: 1}); !errors.Is(err, ErrNotExist) {
		t.Errorf("ProcKey of a missing pid: error = %v, want ErrNotExist", err)
	}
}

func TestStatFixtures(t *testing.T) {
	tests := []struct {
		name string
		pid  int
		want Stat
	}{
		{"container init", 12844, Stat{PID: 12844, Comm: "sleep", State: 'S', PPID: 12824, Flags: 4194560, NumThreads: 1, StartTime: 450778}},
		{"memfd process named by its fd", 18334, Stat{PID: 18334, Comm: "3", State: 'S', PPID: 1, Flags: 4194304, NumThreads: 1, StartTime: 463752}},
		{"zombie", 18666, Stat{PID: 18666, Comm: "python3", State: 'Z', PPID: 18664, Flags: 4227148, NumThreads: 1, StartTime: 465403}},
	}
	fs := fixtureFS(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := open(t, fs, tt.pid).Stat()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Stat() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatusFixtures(t *testing.T) {
	tests := []struct {
		name string
		pid  int
		want Status
	}{
		{
			name: "container init as root with runc's default caps",
			pid:  12844,
			want: Status{Name: "sleep", CapPrm: 0xa80425fb, CapEff: 0xa80425fb, CapBnd: 0xa80425fb, NoNewPrivs: true, NSpid: []int{12844, 1}},
		},
		{
			name: "seccomp filter and a dropped capability",
			pid:  20577,
			want: Status{Name: "sleep", CapPrm: 0xa80405fb, CapEff: 0xa80405fb, CapBnd: 0xa80405fb, NoNewPrivs: true, Seccomp: SeccompFilter, NSpid: []int{20577, 1}},
		},
		{
			name: "host process as nobody",
			pid:  16861,
			want: Status{
				Name: "python3",
				UID:  IDs{65534, 65534, 65534, 65534}, GID: IDs{65534, 65534, 65534, 65534},
				CapBnd: 0x1fffeffffff, NSpid: []int{16861},
			},
		},
	}
	fs := fixtureFS(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := open(t, fs, tt.pid).Status()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Status() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExeFixtures(t *testing.T) {
	tests := []struct {
		name    string
		pid     int
		want    Exe
		wantErr error
	}{
		{name: "container binary", pid: 12844, want: Exe{Path: "/bin/busybox"}},
		{name: "deleted after exec", pid: 12867, want: Exe{Path: "/tmp/busybox", Deleted: true}},
		{name: "memfd", pid: 18334, want: Exe{Path: "/memfd:payload", Deleted: true, Memfd: true}},
		{name: "zombie", pid: 18666, wantErr: ErrZombie},
	}
	fs := fixtureFS(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := open(t, fs, tt.pid).Exe()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Exe() error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Exe() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCgroupFixture(t *testing.T) {
	got, err := open(t, fixtureFS(t), 20577).Cgroup()
	if err != nil {
		t.Fatal(err)
	}
	want := []CgroupLine{
		{9, []string{"name=systemd"}, "/cproc/cproc-c2"},
		{8, []string{"pids"}, "/cproc/cproc-c2"},
		{7, []string{"blkio"}, "/cproc/cproc-c2"},
		{6, []string{"freezer"}, "/cproc/cproc-c2"},
		{5, []string{"devices"}, "/cproc/cproc-c2"},
		{4, []string{"memory"}, "/cproc/cproc-c2"},
		{3, []string{"cpuset"}, "/cproc/cproc-c2"},
		{2, []string{"cpuacct"}, "/cproc/cproc-c2"},
		{1, []string{"cpu"}, "/cproc/cproc-c2"},
		{0, nil, "/cproc/cproc-c2"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Cgroup() mismatch (-want +got):\n%s", diff)
	}
	ns, id, ok := ContainerFromCgroup(got)
	if ns != "cproc" || id != "cproc-c2" || !ok {
		t.Errorf("ContainerFromCgroup() = %q, %q, %v", ns, id, ok)
	}
	if !InCgroup(got, "/cproc/cproc-c2") || InCgroup(got, "/cproc/cproc-c1") {
		t.Error("InCgroup disagrees with the fixture")
	}
}

func TestFdsFixtures(t *testing.T) {
	tests := []struct {
		name    string
		pid     int
		want    []Fd
		wantErr error
	}{
		{
			name: "read, append-write and read-write files",
			pid:  12844,
			want: []Fd{
				{Num: 0, Target: "pipe:[21609]"},
				{Num: 1, Target: "pipe:[21610]"},
				{Num: 2, Target: "pipe:[21611]"},
				{Num: 3, Target: "/etc/shadow", Flags: 0o100000, MntID: 93, Info: true},
				{Num: 4, Target: "/tmp/out", Flags: 0o102001, MntID: 93, Info: true},
				{Num: 5, Target: "/tmp/rw", Flags: 0o100002, MntID: 93, Info: true},
			},
		},
		{
			name: "sockets, O_PATH and append on the host",
			pid:  16861,
			want: []Fd{
				{Num: 0, Target: "/dev/null", Flags: 0o100000, MntID: 24, Info: true},
				{Num: 1, Target: "/tmp/cproc/host/net.pid", Flags: 0o100001, MntID: 27, Info: true},
				{Num: 2, Target: "/tmp/cproc/host/net.err", Flags: 0o100001, MntID: 27, Info: true},
				{Num: 3, Target: "socket:[28317]"},
				{Num: 4, Target: "socket:[28318]"},
				{Num: 5, Target: "socket:[28319]"},
				{Num: 6, Target: "socket:[28320]"},
				{Num: 7, Target: "socket:[28321]"},
				{Num: 8, Target: "socket:[28322]"},
				{Num: 9, Target: "socket:[28323]"},
				{Num: 10, Target: "/dev/null", Flags: 0o100000, MntID: 24, Info: true},
				{Num: 11, Target: "socket:[28324]"},
				{Num: 12, Target: "socket:[28325]"},
				{Num: 13, Target: "socket:[28326]"},
				{Num: 14, Target: "/tmp/cproc/host/written.log", Flags: 0o2102001, MntID: 27, Info: true},
				{Num: 15, Target: "/tmp/cproc/host", Flags: 0o12000000, MntID: 27, Info: true},
				{Num: 251, Target: "pipe:[28302]"},
			},
		},
		{name: "zombie", pid: 18666, wantErr: ErrZombie},
	}
	fs := fixtureFS(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := open(t, fs, tt.pid).Fds()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Fds() error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Fds() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFdMethods(t *testing.T) {
	tests := []struct {
		name     string
		fd       Fd
		access   Access
		writable bool
		path     string
		deleted  bool
		sock     uint64
		isSock   bool
	}{
		{name: "read", fd: Fd{Target: "/etc/shadow", Flags: 0o100000, Info: true}, access: AccessRead, path: "/etc/shadow"},
		{name: "append write", fd: Fd{Target: "/tmp/out", Flags: 0o102001, Info: true}, access: AccessWrite, writable: true, path: "/tmp/out"},
		{name: "read write", fd: Fd{Target: "/tmp/rw", Flags: 0o100002, Info: true}, access: AccessReadWrite, writable: true, path: "/tmp/rw"},
		{name: "O_PATH is neither", fd: Fd{Target: "/tmp", Flags: 0o12000000, Info: true}, access: AccessPath, path: "/tmp"},
		{name: "deleted file", fd: Fd{Target: "/tmp/x (deleted)", Flags: 0o2, Info: true}, access: AccessReadWrite, writable: true, path: "/tmp/x", deleted: true},
		{name: "socket", fd: Fd{Target: "socket:[28317]"}, access: AccessUnknown, sock: 28317, isSock: true},
		{name: "pipe", fd: Fd{Target: "pipe:[1]"}, access: AccessUnknown},
		{name: "malformed socket", fd: Fd{Target: "socket:[x]"}, access: AccessUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.fd.Access(); got != tt.access {
				t.Errorf("Access() = %v, want %v", got, tt.access)
			}
			if got := tt.fd.Writable(); got != tt.writable {
				t.Errorf("Writable() = %v, want %v", got, tt.writable)
			}
			path, deleted := tt.fd.Path()
			if path != tt.path || deleted != tt.deleted {
				t.Errorf("Path() = %q, %v, want %q, %v", path, deleted, tt.path, tt.deleted)
			}
			sock, isSock := tt.fd.SocketInode()
			if sock != tt.sock || isSock != tt.isSock {
				t.Errorf("SocketInode() = %d, %v, want %d, %v", sock, isSock, tt.sock, tt.isSock)
			}
		})
	}
}

func TestNamespacesAndRoot(t *testing.T) {
	fs := fixtureFS(t)
	c1, c2, host := open(t, fs, 12844), open(t, fs, 20577), open(t, fs, 16861)
	for _, tt := range []struct {
		name string
		p    Proc
		want uint64
	}{
		{"container c1", c1, 4026532254},
		{"container c2", c2, 4026532327},
		{"host", host, 4026531833},
	} {
		got, err := tt.p.NetNS()
		if err != nil || got != tt.want {
			t.Errorf("%s: NetNS() = %d, %v, want %d", tt.name, got, err, tt.want)
		}
	}
	if ino, err := c1.Namespace("pid"); err != nil || ino != 4026532253 {
		t.Errorf("Namespace(pid) = %d, %v", ino, err)
	}
	if root, err := c1.Root(); err != nil || root != "/" {
		t.Errorf("Root() = %q, %v", root, err)
	}
	z := open(t, fs, 18666)
	if _, err := z.NetNS(); !errors.Is(err, ErrZombie) {
		t.Errorf("zombie NetNS() error = %v, want ErrZombie", err)
	}
	if _, err := z.Root(); !errors.Is(err, ErrZombie) {
		t.Errorf("zombie Root() error = %v, want ErrZombie", err)
	}
	if _, err := host.Namespace("user"); !errors.Is(err, ErrNotExist) {
		t.Errorf("missing Namespace(user) error = %v, want ErrNotExist", err)
	}
}

func TestNetFixtures(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name string
		pid  int
		want []Socket
	}{
		{
			name: "container netns",
			pid:  20157,
			want: []Socket{
				{Proto: TCP, Local: ap("127.0.0.1:8080"), Remote: ap("0.0.0.0:0"), State: StateListen, Inode: 21678},
				{Proto: TCP, Local: ap("127.0.0.1:51730"), Remote: ap("127.0.0.1:8080"), State: StateEstablished, Inode: 32881},
				{Proto: TCP, Local: ap("127.0.0.1:8080"), Remote: ap("127.0.0.1:51730"), State: StateEstablished, Inode: 21685},
			},
		},
		{
			name: "host: IPv6, mapped IPv4, UDP",
			pid:  16861,
			want: []Socket{
				{Proto: TCP, Local: ap("127.0.0.1:18080"), Remote: ap("0.0.0.0:0"), State: StateListen, UID: 65534, Inode: 28320},
				{Proto: TCP, Local: ap("127.0.0.1:18080"), Remote: ap("127.0.0.1:51196"), State: StateEstablished, UID: 65534, Inode: 28322},
				{Proto: TCP6, Local: ap("[::1]:18443"), Remote: ap("[::]:0"), State: StateListen, UID: 65534, Inode: 28317},
				{Proto: TCP6, Local: ap("[::ffff:127.0.0.1]:51196"), Remote: ap("[::ffff:127.0.0.1]:18080"), State: StateEstablished, UID: 65534, Inode: 28321},
				{Proto: TCP6, Local: ap("[::1]:18443"), Remote: ap("[::1]:48346"), State: StateEstablished, UID: 65534, Inode: 28319},
				{Proto: TCP6, Local: ap("[::1]:48346"), Remote: ap("[::1]:18443"), State: StateEstablished, UID: 65534, Inode: 28318},
				{Proto: UDP, Local: ap("127.0.0.1:60678"), Remote: ap("127.0.0.53:53"), State: StateEstablished, UID: 65534, Inode: 28324},
				{Proto: UDP, Local: ap("0.0.0.0:15353"), Remote: ap("0.0.0.0:0"), State: StateClose, UID: 65534, Inode: 28323},
				{Proto: UDP6, Local: ap("[::]:15300"), Remote: ap("[::]:0"), State: StateClose, UID: 65534, Inode: 28325},
				{Proto: UDP6, Local: ap("[fd00::2]:55142"), Remote: ap("[2001:db8::1234:5678]:443"), State: StateEstablished, UID: 65534, Inode: 28326},
			},
		},
	}
	fs := fixtureFS(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := open(t, fs, tt.pid).Net()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpAddr); diff != "" {
				t.Errorf("Net() mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := open(t, fs, 18666).Net(); !errors.Is(err, ErrZombie) {
		t.Errorf("zombie Net() error = %v, want ErrZombie", err)
	}
}

// copyFixture copies one fixture process into a fresh root so a test can
// make it vanish or change under a handle.
func copyFixture(t *testing.T, pid int) (FS, string) {
	t.Helper()
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(fixtures)); err != nil {
		t.Fatal(err)
	}
	fs, err := NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	return fs, filepath.Join(root, strconv.Itoa(pid))
}

func TestGoneMidRead(t *testing.T) {
	fs, dir := copyFixture(t, 12844)
	p := open(t, fs, 12844)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	checks := map[string]func() error{
		"Stat":   func() error { _, err := p.Stat(); return err },
		"Status": func() error { _, err := p.Status(); return err },
		"Exe":    func() error { _, err := p.Exe(); return err },
		"Root":   func() error { _, err := p.Root(); return err },
		"Cgroup": func() error { _, err := p.Cgroup(); return err },
		"Fds":    func() error { _, err := p.Fds(); return err },
		"NetNS":  func() error { _, err := p.NetNS(); return err },
		"Net":    func() error { _, err := p.Net(); return err },
		"Alive":  p.Alive,
	}
	for name, f := range checks {
		if err := f(); !errors.Is(err, ErrGone) {
			t.Errorf("%s after the process vanished: error = %v, want ErrGone", name, err)
		}
	}
}

func TestPIDReused(t *testing.T) {
	fs, dir := copyFixture(t, 12844)
	p := open(t, fs, 12844)
	// Same PID, another process: a later start time.
	stat := "12844 (sh) S 1 12844 12844 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 999999 0 0\n"
	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Stat(); !errors.Is(err, ErrGone) {
		t.Errorf("Stat() after PID reuse: error = %v, want ErrGone", err)
	}
	if err := p.Alive(); !errors.Is(err, ErrGone) {
		t.Errorf("Alive() after PID reuse: error = %v, want ErrGone", err)
	}
	if err := os.Remove(filepath.Join(dir, "exe")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Exe(); !errors.Is(err, ErrGone) {
		t.Errorf("Exe() after PID reuse: error = %v, want ErrGone", err)
	}
}

// The live /proc, read through the same code: this process and a child.
func TestLiveProc(t *testing.T) {
	fs, err := NewFS("/proc")
	if err != nil {
		t.Skip("no /proc:", err)
	}
	self := open(t, fs, os.Getpid())
	exe, err := self.Exe()
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if exe.Path != want || exe.Fileless() {
		t.Errorf("Exe() = %+v, want %q", exe, want)
	}
	st, err := self.Stat()
	if err != nil || st.PID != os.Getpid() || st.PPID != os.Getppid() {
		t.Errorf("Stat() = %+v, %v", st, err)
	}
	if _, err := self.Status(); err != nil {
		t.Error(err)
	}
	if _, err := self.Cgroup(); err != nil {
		t.Error(err)
	}
	fds, err := self.Fds()
	if err != nil || len(fds) == 0 {
		t.Errorf("Fds() = %d fds, %v", len(fds), err)
	}
	if _, err := self.Net(); err != nil {
		t.Error(err)
	}
	if _, err := self.NetNS(); err != nil {
		t.Error(err)
	}

	// A child that exits and is reaped: its handle reports ErrGone.
	cmd := exec.Command("/bin/true")
	if err := cmd.Start(); err != nil {
		t.Skip("cannot start /bin/true:", err)
	}
	child, err := fs.Proc(cmd.Process.Pid)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if err == nil {
		if _, err := child.Exe(); !errors.Is(err, ErrGone) {
			t.Errorf("Exe() of a reaped child: error = %v, want ErrGone", err)
		}
	}
}
