package seccomp

import (
	"strings"
	"testing"

	"github.com/confinehq/confine/profiles"
)

// FuzzImportDocker: any input either imports into a profile that
// generates and exports, or fails with an error that names the file.
func FuzzImportDocker(f *testing.F) {
	for _, name := range []string{"moby-default.json", "moby-default-old-format.json", "moby-example.json", "moby-conditional_include.json"} {
		f.Add(readTestdata(f, name))
	}
	for _, s := range []string{
		``, `{}`, `[]`, `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_KILL"}]}`,
		`{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "syscalls": [{"name": "read", "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"], "minKernel": "4.8"}}]}`,
		`{"defaultAction": "SCMP_ACT_LOG", "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}], "syscalls": [{"names": ["write"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}]}]}`,
		`{"a": [[[[{"b": 1}]]]]}`, `{"syscalls": [{"names": ["x"]}]} trailing`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, _, err := ImportDocker(data, "fuzz.json", "fuzz", "amd64")
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "fuzz.json") && !strings.HasPrefix(msg, "importing fuzz.json") {
				t.Fatalf("error does not name the file: %q", msg)
			}
			return
		}
		g, err := Generate(p, "amd64")
		if err != nil {
			t.Fatalf("imported profile does not generate: %v", err)
		}
		checkFilter(t, g)
		if _, err := ExportDocker(p, "amd64"); err != nil {
			t.Fatalf("imported profile does not export: %v", err)
		}
	})
}

// FuzzGenerate: any profile either generates a filter runc 1.1.5 loads,
// the same on every run, or fails naming the profile field.
func FuzzGenerate(f *testing.F) {
	f.Add("read,write", "", uint8(0), false, uint8(0), "")
	f.Add("", "ptrace,mount", uint8(1), false, uint8(1), "")
	f.Add("clone", "personality", uint8(0), true, uint8(2), "SYS_ADMIN,NET_RAW")
	f.Add("Bad!", "read", uint8(2), true, uint8(0), "")
	f.Fuzz(func(t *testing.T, allow, deny string, action uint8, base bool, nnp uint8, caps string) {
		split := func(s string) profiles.List {
			if s == "" {
				return nil
			}
			return profiles.List(strings.Split(s, ","))
		}
		s := profiles.Seccomp{Allow: split(allow), Deny: split(deny)}
		s.DefaultAction = []string{"", profiles.ActionErrno, profiles.ActionKill, profiles.ActionLog, "bogus"}[int(action)%5]
		if base {
			s.Base = profiles.BaseDockerDefault
		}
		p := profile(s, profiles.Privileges{Capabilities: split(caps)})
		switch nnp % 3 {
		case 1:
			p.Privileges.NoNewPrivileges = profiles.Bool(true)
		case 2:
			p.Privileges.NoNewPrivileges = profiles.Bool(false)
		}
		for _, goarch := range []string{"amd64", "arm64"} {
			g, err := Generate(p, goarch)
			if err != nil {
				if !strings.HasPrefix(err.Error(), "seccomp.") {
					t.Fatalf("error does not name the field: %q", err)
				}
				continue
			}
			checkFilter(t, g)
			again, _ := Generate(p, goarch)
			if string(specJSONTB(t, g)) != string(specJSONTB(t, again)) {
				t.Fatal("not deterministic")
			}
		}
	})
}
