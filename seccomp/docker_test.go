package seccomp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/confinehq/confine/profiles"
)

// importText renders an import for golden files: notes, then the
// profile's seccomp section.
func importText(t *testing.T, p *profiles.Profile, notes []string) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, n := range notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	data, err := json.MarshalIndent(p.Seccomp, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	b.Write(data)
	b.WriteByte('\n')
	return b.Bytes()
}

func TestImportDockerGolden(t *testing.T) {
	tests := []struct {
		name, file string
		data       []byte // when not read from file
		goarch     string
		wantBase   bool
	}{
		{name: "moby-default", file: "moby-default.json", goarch: "amd64", wantBase: true},
		{name: "moby-default-arm64", file: "moby-default.json", goarch: "arm64", wantBase: true},
		{name: "moby-default-old-format", file: "moby-default-old-format.json", goarch: "amd64"},
		{name: "moby-conditional_include", file: "moby-conditional_include.json", goarch: "amd64"},
		{name: "deny-list", file: "deny.json", goarch: "amd64", data: []byte(`{
	"defaultAction": "SCMP_ACT_ALLOW",
	"syscalls": [
		{"names": ["ptrace", "mount", "mseal"], "action": "SCMP_ACT_ERRNO"},
		{"names": ["copy_file_range"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
		{"names": ["read"], "action": "SCMP_ACT_ALLOW"}
	]
}`)},
		{name: "kill-list", file: "kill.json", goarch: "amd64", data: []byte(`{
	"defaultAction": "SCMP_ACT_KILL",
	"architectures": ["SCMP_ARCH_X86_64"],
	"syscalls": [
		{"name": "read", "action": "SCMP_ACT_ALLOW", "args": []},
		{"name": "write", "action": "SCMP_ACT_ALLOW", "comment": "output"},
		{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
		{"names": ["ptrace", "copy_file_range"], "action": "SCMP_ACT_KILL_THREAD"}
	]
}`)},
		{name: "log", file: "log.json", goarch: "amd64", data: []byte(`{
	"defaultAction": "SCMP_ACT_LOG",
	"defaultErrnoRet": null,
	"syscalls": [
		{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
		{"names": ["ptrace"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
		{"names": ["mount"], "action": "SCMP_ACT_LOG"}
	]
}`)},
		{name: "errno-enosys-default", file: "enosys.json", goarch: "amd64", data: []byte(`{
	"defaultAction": "SCMP_ACT_ERRNO",
	"defaultErrnoRet": 38,
	"syscalls": [
		{"names": ["read", "write", "clone"], "action": "SCMP_ACT_ALLOW"},
		{"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}]},
		{"names": ["ptrace"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
	]
}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.data
			if data == nil {
				data = readTestdata(t, tc.file)
			}
			p, notes, err := ImportDocker(data, tc.file, "imported", tc.goarch)
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != "imported" || p.APIVersion != profiles.APIVersion || p.Mode != profiles.ModeEnforce || p.Source != tc.file {
				t.Errorf("profile header: %+v", p)
			}
			if errs, _ := profiles.Validate(p, profiles.Options{KnownSyscall: knownFor(tc.goarch)}); len(errs) > 0 {
				t.Errorf("imported profile does not validate: %v", errors.Join(errs...))
			}
			if got := p.Seccomp.Base == profiles.BaseDockerDefault; got != tc.wantBase {
				t.Errorf("base: %v, want %v", got, tc.wantBase)
			}
			golden(t, "import-"+tc.name+".txt", importText(t, p, notes))
		})
	}
}

// knownFor is the pure-Go stand-in of syscalls.Known for a GOARCH.
func knownFor(goarch string) func(string) bool {
	fam, _ := family(goarch)
	return fam.isKnown
}

// resolveFile resolves a Docker JSON document the way Docker does, for
// the given capabilities (nil: Docker's default set).
func resolveFile(t *testing.T, data []byte, goarch string, caps profiles.List) *specs.LinuxSeccomp {
	t.Helper()
	fam, err := family(goarch)
	if err != nil {
		t.Fatal(err)
	}
	dp, pos, err := parseDocker(data, "x.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err := resolveDocker(dp, pos, newResolveEnv(fam, caps))
	if err != nil {
		t.Fatal(err)
	}
	return r.toSpec()
}

// TestImportExportMobyDefault proves that importing moby's default.json
// and exporting it again gives an equivalent filter: the same decision
// for every syscall libseccomp knows, per architecture and capability
// set. The one documented difference: a call of clone, personality or
// socket whose arguments match none of Docker's argument rules gets
// ENOSYS from confine's default instead of Docker's EPERM.
func TestImportExportMobyDefault(t *testing.T) {
	moby := readTestdata(t, "moby-default.json")
	for _, goarch := range []string{"amd64", "arm64"} {
		for _, caps := range []profiles.List{nil, {"CHOWN"}, {"SYS_ADMIN", "SYS_PTRACE", "SYS_TIME", "SYS_NICE"}, {"BPF", "PERFMON", "SYSLOG", "DAC_READ_SEARCH"}} {
			t.Run(fmt.Sprintf("%s caps=%v", goarch, caps), func(t *testing.T) {
				p, _, err := ImportDocker(moby, "moby-default.json", "moby", goarch)
				if err != nil {
					t.Fatal(err)
				}
				p.Privileges.Capabilities = caps
				exported, err := ExportDocker(p, goarch)
				if err != nil {
					t.Fatal(err)
				}
				ours := resolveFile(t, exported, goarch, caps)
				docker := resolveFile(t, moby, goarch, caps)
				fam, _ := family(goarch)
				if ok, diff := sameDecisions(docker, ours, fam.known); !ok {
					t.Errorf("decisions differ: %s", diff)
				}
				if Decide(docker, "definitely_not_a_syscall") != (Decision{Action: specs.ActErrno, Errno: 1}) ||
					Decide(ours, "definitely_not_a_syscall") != (Decision{Action: specs.ActErrno, Errno: 38}) {
					t.Errorf("defaults: Docker %+v, confine %+v", Decide(docker, "x"), Decide(ours, "x"))
				}
				// And back: the export imports as the base again.
				again, _, err := ImportDocker(exported, "exported.json", "moby", goarch)
				if err != nil {
					t.Fatal(err)
				}
				if caps == nil && again.Seccomp.Base != profiles.BaseDockerDefault {
					t.Errorf("re-import: %+v", again.Seccomp)
				}
			})
		}
	}
}

// TestImportOldDefaultDifferences pins down, syscall by syscall, where the
// import of Docker's old default profile decides differently from the
// file, and that the notes say so.
func TestImportOldDefaultDifferences(t *testing.T) {
	data := readTestdata(t, "moby-default-old-format.json")
	p, notes, err := ImportDocker(data, "old.json", "old", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Generate(p, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	docker := resolveFile(t, data, "amd64", nil)
	var differ []string
	for _, n := range KnownSyscalls("amd64") {
		if Decide(docker, n) != Decide(f, n) {
			differ = append(differ, n)
		}
	}
	all := strings.Join(notes, "\n")
	var want []string
	for _, n := range differ {
		switch {
		case n == "clone" || n == "personality":
			want = append(want, n+": denied, since its argument rules were dropped")
		case n == "faccessat2":
			want = append(want, "runtime floor runc's init needs")
		case contains(FallbackSyscalls, n):
			want = append(want, n) // listed in the default-action note
		default:
			t.Errorf("%s: Docker %+v, confine %+v, and no note explains it", n, Decide(docker, n), Decide(f, n))
		}
	}
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("notes lack %q", w)
		}
	}
	for _, n := range []string{"clone", "personality"} {
		if !contains(differ, n) {
			t.Errorf("%s: expected a difference", n)
		}
	}
}

// TestExportImportRoundTrip: for every kind of profile, exporting and
// importing again gives a profile with the same filter decisions.
func TestExportImportRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    *profiles.Profile
	}{
		{"allow errno", profile(profiles.Seccomp{Allow: webAllow}, profiles.Privileges{})},
		{"allow deny errno", profile(profiles.Seccomp{Allow: webAllow, Deny: profiles.List{"ptrace", "clone3"}}, nnpOn)},
		{"allow kill", profile(profiles.Seccomp{DefaultAction: profiles.ActionKill, Allow: webAllow, Deny: profiles.List{"copy_file_range"}}, nnpOn)},
		{"allow log", profile(profiles.Seccomp{DefaultAction: profiles.ActionLog, Allow: webAllow, Deny: profiles.List{"ptrace", "copy_file_range"}}, nnpOn)},
		{"deny list errno", profile(profiles.Seccomp{Deny: profiles.List{"ptrace", "copy_file_range"}}, profiles.Privileges{})},
		{"deny list kill", profile(profiles.Seccomp{DefaultAction: profiles.ActionKill, Deny: profiles.List{"ptrace"}}, profiles.Privileges{})},
		{"docker-default", profile(profiles.Seccomp{Base: profiles.BaseDockerDefault}, profiles.Privileges{})},
		{"docker-default sysadmin", profile(profiles.Seccomp{Base: profiles.BaseDockerDefault, Allow: profiles.List{"personality"}, Deny: profiles.List{"mount", "socket"}},
			profiles.Privileges{Capabilities: profiles.List{"SYS_ADMIN"}})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := Generate(tc.p, "amd64")
			if err != nil {
				t.Fatal(err)
			}
			data, err := ExportDocker(tc.p, "amd64")
			if err != nil {
				t.Fatal(err)
			}
			back, _, err := ImportDocker(data, "exported.json", "back", "amd64")
			if err != nil {
				t.Fatal(err)
			}
			back.Privileges = tc.p.Privileges
			got, err := Generate(back, "amd64")
			if err != nil {
				t.Fatal(err)
			}
			if ok, diff := sameDecisions(want, got, KnownSyscalls("amd64")); !ok {
				t.Errorf("decisions differ after the round trip: %s\nprofile: %+v", diff, back.Seccomp)
			}
		})
	}
}

func TestExportDocker(t *testing.T) {
	base := profile(profiles.Seccomp{Base: profiles.BaseDockerDefault}, profiles.Privileges{})
	data, err := ExportDocker(base, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "export-docker-default.json", data)
	web, err := ExportDocker(profile(profiles.Seccomp{Allow: webAllow, Deny: profiles.List{"ptrace"}}, nnpOn), "amd64")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "export-allow-errno.json", web)

	// containerd (ctr --seccomp-profile) reads the file as an OCI
	// LinuxSeccomp: every field must be one of it.
	for _, d := range [][]byte{data, web} {
		dec := json.NewDecoder(bytes.NewReader(d))
		dec.DisallowUnknownFields()
		var s specs.LinuxSeccomp
		if err := dec.Decode(&s); err != nil {
			t.Errorf("not an OCI LinuxSeccomp: %v", err)
		}
		checkFilter(t, &s)
	}
	if _, err := ExportDocker(profile(profiles.Seccomp{}, profiles.Privileges{}), "amd64"); err == nil || !strings.Contains(err.Error(), "no seccomp section") {
		t.Errorf("no section: %v", err)
	}
	if _, err := ExportDocker(profile(profiles.Seccomp{Allow: profiles.List{"Bad"}}, nnpOn), "amd64"); err == nil || !strings.Contains(err.Error(), "seccomp.allow[0]") {
		t.Errorf("bad name: %v", err)
	}
}

func TestImportDockerErrors(t *testing.T) {
	const file = "bad.json"
	rule := func(body string) string {
		return "{\n\t\"defaultAction\": \"SCMP_ACT_ERRNO\",\n\t\"syscalls\": [\n\t\t" + body + "\n\t]\n}"
	}
	tests := []struct {
		name   string
		data   string
		goarch string
		want   []string
		is     error
	}{
		// Syntax and schema: file, line, field.
		{"syntax", rule(`{"names": ["read"] "action": "SCMP_ACT_ALLOW"}`), "", []string{"bad.json:4:", "syntax error", "invalid character"}, ErrDockerProfile},
		{"unknown field", rule(`{"names": ["read"],` + "\n\t\t\"nmes\": []}"), "", []string{"bad.json:5:", "syscalls[0].nmes", `unknown field "nmes"`}, ErrDockerProfile},
		{"unknown top-level field", "{\n\"defaultAction\": \"SCMP_ACT_ERRNO\",\n\"defaultErrno\": 1}", "", []string{"bad.json:3:", "defaultErrno:", "unknown field"}, ErrDockerProfile},
		{"unknown field in args", rule(`{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "valu": 1, "op": "SCMP_CMP_EQ"}]}`), "", []string{"bad.json:4:", "syscalls[0].args[0].valu"}, ErrDockerProfile},
		{"unknown field in includes", rule(`{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"capabilities": []}}`), "", []string{"bad.json:4:", "syscalls[0].includes.capabilities"}, ErrDockerProfile},
		{"case matters", "{\"DefaultAction\": \"SCMP_ACT_ERRNO\"}", "", []string{"bad.json:1:", "DefaultAction", "unknown field"}, ErrDockerProfile},
		{"duplicate key", rule(`{"names": ["read"], "action": "SCMP_ACT_ALLOW",` + "\n\t\t\"action\": \"SCMP_ACT_ERRNO\"}"), "", []string{"bad.json:5:", "syscalls[0].action", "given twice"}, ErrDockerProfile},
		{"wrong type", rule(`{"names": "read", "action": "SCMP_ACT_ALLOW"}`), "", []string{"bad.json:4:", "syscalls[0].names", "cannot use string as a list of strings"}, ErrDockerProfile},
		{"wrong type later rule", rule("{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\"},\n\t\t{\"names\": [\"write\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": \"EPERM\"}"), "", []string{"bad.json:5:", "syscalls[1].errnoRet", "cannot use string as a non-negative integer"}, ErrDockerProfile},
		{"negative number", rule(`{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": -1, "value": 0, "op": "SCMP_CMP_EQ"}]}`), "", []string{"bad.json:4:", "syscalls[0].args[0].index", "number -1"}, ErrDockerProfile},
		{"trailing data", "{\"defaultAction\": \"SCMP_ACT_ERRNO\"}\n{}", "", []string{"bad.json:2:", "unexpected data after the top-level object"}, ErrDockerProfile},
		{"not an object", "\n[]", "", []string{"bad.json:2:", "not a JSON object"}, ErrDockerProfile},
		{"empty", "", "", []string{"bad.json:1:", "unexpected end of input"}, ErrDockerProfile},
		{"truncated", "{\"defaultAction\": \n", "", []string{"bad.json:", "unexpected end of input"}, ErrDockerProfile},
		{"too large", "{\"defaultAction\": \"" + strings.Repeat("x", MaxDockerBytes) + "\"}", "", []string{"bad.json: larger than"}, ErrDockerProfile},
		// Values.
		{"unknown default action", "{\n\"defaultAction\": \"SCMP_ACT_DENY\"}", "", []string{"bad.json:2:", "defaultAction:", `unknown action "SCMP_ACT_DENY"`}, ErrDockerProfile},
		{"unknown action", rule("{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\"},\n\t\t{\"names\": [\"write\"],\n\t\t\"action\": \"ALLOW\"}"), "", []string{"bad.json:6:", "syscalls[1].action", `unknown action "ALLOW"`}, ErrDockerProfile},
		{"unknown operator", rule(`{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_IN"}]}`), "", []string{"bad.json:4:", "syscalls[0].args[0].op", `unknown operator "SCMP_CMP_IN"`}, ErrDockerProfile},
		{"argument index", rule(`{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}`), "", []string{"bad.json:4:", "syscalls[0].args[0].index", "argument index 6 is not 0-5"}, ErrDockerProfile},
		{"name and names", rule(`{"name": "read", "names": ["write"], "action": "SCMP_ACT_ALLOW"}`), "", []string{"bad.json:4:", "syscalls[0]:", "both name and names"}, ErrDockerProfile},
		{"no names", rule(`{"names": [], "action": "SCMP_ACT_ALLOW"}`), "", []string{"bad.json:4:", "syscalls[0]:", "no syscall name"}, ErrDockerProfile},
		{"bad name", rule("{\"names\": [\"read\",\n\t\t\"Write\"], \"action\": \"SCMP_ACT_ALLOW\"}"), "", []string{"bad.json:5:", "syscalls[0].names[1]", `"Write" is not a syscall name`}, ErrDockerProfile},
		{"bad old-format name", rule(`{"name": "rea d", "action": "SCMP_ACT_ALLOW"}`), "", []string{"bad.json:4:", "syscalls[0].name:"}, ErrDockerProfile},
		{"defaultErrnoRet without errno", "{\"defaultAction\": \"SCMP_ACT_ALLOW\",\n\"defaultErrnoRet\": 1}", "", []string{"bad.json:2:", "defaultErrnoRet: set, but defaultAction is SCMP_ACT_ALLOW"}, ErrDockerProfile},
		{"errnoRet on allow", rule(`{"names": ["read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}`), "", []string{"bad.json:4:", "syscalls[0].errnoRet: set, but the action is SCMP_ACT_ALLOW"}, ErrDockerProfile},
		{"architectures and archMap", "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": [\"SCMP_ARCH_X86_64\"],\n\"archMap\": [{\"architecture\": \"SCMP_ARCH_X86_64\"}]}", "", []string{"bad.json:2:", "archMap: architectures and archMap are mutually exclusive"}, ErrDockerProfile},
		{"bad architecture", "{\"defaultAction\": \"SCMP_ACT_ERRNO\",\n\"architectures\": [\"x86_64\"]}", "", []string{"bad.json:2:", "architectures[0]", `unknown architecture "x86_64"`}, ErrDockerProfile},
		{"bad archMap architecture", "{\"defaultAction\": \"SCMP_ACT_ERRNO\",\n\"archMap\": [{\"architecture\": \"amd64\", \"subArchitectures\": null}]}", "", []string{"bad.json:2:", "archMap[0].architecture"}, ErrDockerProfile},
		{"bad minKernel", rule(`{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "four"}}`), "", []string{"bad.json:4:", "syscalls[0].includes.minKernel", `kernel version "four"`}, ErrDockerProfile},
		{"bad excludes minKernel", rule(`{"names": ["read"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "5"}}`), "", []string{"syscalls[0].excludes.minKernel"}, ErrDockerProfile},
		{"refused and allowed", rule("{\"names\": [\"ptrace\"], \"action\": \"SCMP_ACT_ALLOW\"},\n\t\t{\"names\": [\"ptrace\"], \"action\": \"SCMP_ACT_ERRNO\"}"), "", []string{"bad.json:5:", "syscalls[1]:", "ptrace is both allowed and refused (also in syscalls[0])"}, ErrDockerProfile},
		// Constructs a profile cannot express.
		{"flags", "{\"defaultAction\": \"SCMP_ACT_ERRNO\",\n\"flags\": [\"SECCOMP_FILTER_FLAG_LOG\"]}", "", []string{"bad.json:2:", "flags: seccomp flags SECCOMP_FILTER_FLAG_LOG cannot be expressed in a confine profile"}, ErrUnsupported},
		{"listener", "{\"defaultAction\": \"SCMP_ACT_ERRNO\",\n\"listenerPath\": \"/run/agent.sock\"}", "", []string{"bad.json:2:", "listenerPath: a seccomp notify listener cannot be expressed"}, ErrUnsupported},
		{"listener metadata", "{\"defaultAction\": \"SCMP_ACT_ERRNO\",\n\"listenerMetadata\": \"x\"}", "", []string{"bad.json:2:", "listenerMetadata:"}, ErrUnsupported},
		{"trace default", "{\n\"defaultAction\": \"SCMP_ACT_TRACE\"}", "", []string{"bad.json:2:", "defaultAction: SCMP_ACT_TRACE as the default action cannot be expressed"}, ErrUnsupported},
		{"notify default", "{\n\"defaultAction\": \"SCMP_ACT_NOTIFY\"}", "", []string{"bad.json:2:", "defaultAction: SCMP_ACT_NOTIFY"}, ErrUnsupported},
		{"trace rule", rule(`{"names": ["ptrace"], "action": "SCMP_ACT_TRACE", "errnoRet": 1}`), "", []string{"bad.json:4:", "syscalls[0].action: SCMP_ACT_TRACE for ptrace cannot be expressed"}, ErrUnsupported},
		{"trap rule", rule(`{"names": ["ptrace"], "action": "SCMP_ACT_TRAP"}`), "", []string{"bad.json:4:", "syscalls[0].action: SCMP_ACT_TRAP for ptrace"}, ErrUnsupported},
		{"notify rule", rule(`{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}`), "", []string{"bad.json:4:", "syscalls[0].action: SCMP_ACT_NOTIFY for mkdir"}, ErrUnsupported},
		{"argument filter", rule(`{"names": ["openat"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 2, "value": 0, "op": "SCMP_CMP_EQ"}]}`), "", []string{"bad.json:4:", "syscalls[0].args: an argument filter (arg2 == 0x0) on openat cannot be expressed"}, ErrUnsupported},
		{"Docker's argument rule on another syscall", rule(`{"names": ["unshare"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}]}`), "", []string{"syscalls[0].args: an argument filter (arg0 & 0x7e020000 == 0x0) on unshare"}, ErrUnsupported},
		{"argument filter on errno", rule(`{"names": ["socket"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_EQ"}]}`), "", []string{"bad.json:4:", "syscalls[0].args: an argument filter on a SCMP_ACT_ERRNO rule for socket"}, ErrUnsupported},
		{"errno value", rule(`{"names": ["ptrace"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}`), "", []string{"bad.json:4:", "syscalls[0].errnoRet: errno 13 for ptrace cannot be expressed"}, ErrUnsupported},
		{"default errno value", "{\"defaultAction\": \"SCMP_ACT_ERRNO\",\n\"defaultErrnoRet\": 13}", "", []string{"bad.json:2:", "defaultErrnoRet: errno 13 as the default"}, ErrUnsupported},
		{"kill rule in errno profile", rule(`{"names": ["ptrace"], "action": "SCMP_ACT_KILL_PROCESS"}`), "", []string{"bad.json:4:", "syscalls[0].action: SCMP_ACT_KILL_PROCESS for ptrace in a profile whose default is errno"}, ErrUnsupported},
		{"log rule in errno profile", rule(`{"names": ["ptrace"], "action": "SCMP_ACT_LOG"}`), "", []string{"syscalls[0].action: SCMP_ACT_LOG for ptrace"}, ErrUnsupported},
		{"errno rule in kill profile", "{\"defaultAction\": \"SCMP_ACT_KILL_PROCESS\", \"syscalls\": [\n{\"names\": [\"ptrace\"], \"action\": \"SCMP_ACT_ERRNO\"}]}", "", []string{"bad.json:2:", "syscalls[0].action: SCMP_ACT_ERRNO for ptrace in a profile whose default kills"}, ErrUnsupported},
		{"mixed deny list", "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [\n{\"names\": [\"ptrace\"], \"action\": \"SCMP_ACT_ERRNO\"},\n{\"names\": [\"mount\"], \"action\": \"SCMP_ACT_KILL\"}]}", "", []string{"bad.json:3:", "syscalls[1].action: SCMP_ACT_KILL here and SCMP_ACT_ERRNO in another rule"}, ErrUnsupported},
		{"mixed deny list, kill first", "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [\n{\"names\": [\"mount\"], \"action\": \"SCMP_ACT_KILL\"},\n{\"names\": [\"ptrace\"], \"action\": \"SCMP_ACT_ERRNO\"}]}", "", []string{"bad.json:3:", "syscalls[1].action: SCMP_ACT_ERRNO here and a kill"}, ErrUnsupported},
		{"moby example", string(readTestdata(t, "moby-example.json")), "", []string{"bad.json:30:", "syscalls[3].errnoRet: errno 12345 for syslog cannot be expressed"}, ErrUnsupported},
		// What the filter generator refuses.
		{"deny list refusing write", "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"write\"], \"action\": \"SCMP_ACT_ERRNO\"}]}", "", []string{"importing bad.json: seccomp.deny[0]: runc's init needs \"write\""}, nil},
		{"architecture", `{"defaultAction": "SCMP_ACT_ERRNO"}`, "s390x", []string{"importing bad.json: unsupported architecture \"s390x\""}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			goarch := tc.goarch
			if goarch == "" {
				goarch = "amd64"
			}
			p, notes, err := ImportDocker([]byte(tc.data), file, "bad", goarch)
			if err == nil {
				t.Fatalf("no error; profile %+v, notes %q", p.Seccomp, notes)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
		})
	}
}

// TestImportDockerNotes checks single decisions that must be reported.
func TestImportDockerNotes(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []string
	}{
		{"arch-conditional rule", `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
			{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
			{"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
			{"names": ["set_tls"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}},
			{"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["amd64"]}},
			{"names": ["bpf"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "6.8"}},
			{"names": ["acct"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "6.8"}}]}`,
			[]string{
				"syscalls[1] (arch_prctl): applies: includes arches [amd64] has amd64",
				"syscalls[2] (set_tls): skipped: includes arches [arm64] lacks amd64",
				"syscalls[3] (ptrace): skipped: excludes arches [amd64] has amd64",
				"syscalls[4] (bpf): skipped: includes minKernel 6.8 > 5.4",
				"syscalls[5] (acct): applies: excludes minKernel 6.8 > 5.4",
			}},
		{"architectures", `{"defaultAction": "SCMP_ACT_ERRNO", "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}], "syscalls": []}`,
			[]string{"architectures: the file lists SCMP_ARCH_X86_64, SCMP_ARCH_X86 for amd64; confine always filters SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32"}},
		{"deny list without denials", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}`,
			[]string{"syscalls[0] (read): allows what the default action allows already", "the filter allows every syscall"}},
		{"kill thread", `{"defaultAction": "SCMP_ACT_KILL_THREAD", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}`,
			[]string{"defaultAction: SCMP_ACT_KILL_THREAD kills the calling thread only", "clone3, close_range", "get ENOSYS in confine instead of a kill"}},
		{"implied refusals", `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}, {"names": ["ptrace", "mount"], "action": "SCMP_ACT_ERRNO"}]}`,
			[]string{"2 refusals of the file are implied by the default action: not listed in seccomp.deny"}},
		{"fallback refused with EPERM", `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}, {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}`,
			[]string{"syscalls[1] (clone3): clone3 answers ENOSYS in confine instead of EPERM"}},
		{"unknown names", `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "mseal", "s390_runtime_instr"], "action": "SCMP_ACT_ALLOW"}]}`,
			[]string{"allowed names libseccomp does not know for amd64 dropped (runc ignores them too): mseal, s390_runtime_instr"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, notes, err := ImportDocker([]byte(tc.data), "n.json", "n", "amd64")
			if err != nil {
				t.Fatal(err)
			}
			all := strings.Join(notes, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("notes lack %q:\n%s", w, all)
				}
			}
		})
	}
}

func TestSameDockerProfile(t *testing.T) {
	def, _, err := embeddedDockerDefault()
	if err != nil {
		t.Fatal(err)
	}
	// Reordering names, dropping comments and spelling one-name rules the
	// old way keep a document equivalent.
	c := canonicalDocker(def)
	for i := range c.Syscalls {
		sort.Sort(sort.Reverse(sort.StringSlice(c.Syscalls[i].Names)))
		c.Syscalls[i].Comment = "changed"
		if len(c.Syscalls[i].Names) == 1 {
			c.Syscalls[i].Name, c.Syscalls[i].Names = c.Syscalls[i].Names[0], nil
		}
	}
	if !sameDockerProfile(def, c) {
		t.Error("an equivalent layout is not recognized")
	}
	c.Syscalls = c.Syscalls[1:]
	if sameDockerProfile(def, c) {
		t.Error("a shorter profile is the default")
	}
}

func TestEmbeddedDefaultIsMobyDefault(t *testing.T) {
	if !bytes.Equal(dockerDefaultJSON, readTestdata(t, "moby-default.json")) {
		t.Error("seccomp/docker_default.json and testdata/seccomp/moby-default.json differ: update both from moby/profiles")
	}
	if _, _, err := embeddedDockerDefault(); err != nil {
		t.Fatal(err)
	}
}
