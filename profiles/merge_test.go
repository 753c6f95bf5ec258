package profiles

import (
	"strings"
	"testing"
)

const mergeA = `apiVersion: confine/v1
name: web
mode: learn
exec:
  allow: [/bin/busybox, /usr/sbin/nginx]
network:
  listen: [80]
privileges:
  allowRoot: false
  noNewPrivileges: true
`

const mergeB = `apiVersion: confine/v1
name: web
mode: learn
exec:
  allow: [/usr/sbin/nginx, /bin/sh]
files:
  deny: [/etc/shadow]
network:
  listen: [80, 443]
privileges:
  allowRoot: true
  noNewPrivileges: true
`

func TestMerge(t *testing.T) {
	out, err := Merge([]MergeInput{{"hostA/web.yaml", []byte(mergeA)}, {"hostB/web.yaml", []byte(mergeB)}}, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	t.Logf("merged:\n%s", got)
	r, err := Parse(out, "merged", Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := r.Profile
	if strings.Join(p.Exec.Allow, ",") != "/bin/busybox,/usr/sbin/nginx,/bin/sh" {
		t.Errorf("exec.allow %v", p.Exec.Allow)
	}
	if len(p.Network.Listen) != 2 || p.Privileges.AllowRoot == nil || !*p.Privileges.AllowRoot || !*p.Privileges.NoNewPrivileges {
		t.Errorf("union %+v %+v", p.Network, p.Privileges)
	}
	for _, want := range []string{
		"- /bin/busybox # from hostA/web.yaml",
		"- /usr/sbin/nginx\n",
		"- /bin/sh # from hostB/web.yaml",
		"- 443 # from hostB/web.yaml",
		"allowRoot: true # inputs differ: hostA/web.yaml: false, hostB/web.yaml: true",
		"    - /etc/shadow # from hostB/web.yaml",
		"files: # absent from hostA/web.yaml (absent places no restriction there): review",
		"# merged by confinectl profile merge from:\n#   hostA/web.yaml\n#   hostB/web.yaml",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("merged profile lacks %q", want)
		}
	}
	if strings.Contains(got, "noNewPrivileges: true #") {
		t.Error("an agreed value was commented")
	}
}

func TestMergeErrors(t *testing.T) {
	other := strings.Replace(mergeB, "name: web", "name: api", 1)
	tests := []struct {
		name   string
		inputs []MergeInput
		rename string
		err    string
	}{
		{name: "nothing", err: "no input"},
		{name: "names differ", inputs: []MergeInput{{"a.yaml", []byte(mergeA)}, {"b.yaml", []byte(other)}}, err: "--name"},
		{name: "invalid input", inputs: []MergeInput{{"a.yaml", []byte(mergeA)}, {"b.yaml", []byte("apiVersion: confine/v1\nname: web\nmode: sometimes\n")}}, err: "b.yaml:3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Merge(tc.inputs, tc.rename, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
		})
	}
	out, err := Merge([]MergeInput{{"a.yaml", []byte(mergeA)}, {"b.yaml", []byte(other)}}, "webapi", Options{})
	if err != nil || !strings.Contains(string(out), "name: webapi\n") {
		t.Fatalf("--name: %v\n%s", err, out)
	}
}
