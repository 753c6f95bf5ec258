package profiles

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"gopkg.in/yaml.v3"
)

// Clone returns a deep copy.
func (p *Profile) Clone() *Profile {
	cp := *p
	cp.Selector.Images = slices.Clone(p.Selector.Images)
	cp.Selector.Labels = maps.Clone(p.Selector.Labels)
	cp.Seccomp.Allow = slices.Clone(p.Seccomp.Allow)
	cp.Seccomp.Deny = slices.Clone(p.Seccomp.Deny)
	cp.Exec.Allow = slices.Clone(p.Exec.Allow)
	cp.Files.Read = slices.Clone(p.Files.Read)
	cp.Files.Write = slices.Clone(p.Files.Write)
	cp.Files.Deny = slices.Clone(p.Files.Deny)
	cp.Files.ReadOnly = slices.Clone(p.Files.ReadOnly)
	cp.Files.Watch = slices.Clone(p.Files.Watch)
	cp.Secrets.Ignore = slices.Clone(p.Secrets.Ignore)
	cp.Network.Egress = slices.Clone(p.Network.Egress)
	cp.Network.Listen = slices.Clone(p.Network.Listen)
	cp.Privileges.Capabilities = slices.Clone(p.Privileges.Capabilities)
	if p.Privileges.AllowRoot != nil {
		cp.Privileges.AllowRoot = Bool(*p.Privileges.AllowRoot)
	}
	if p.Privileges.NoNewPrivileges != nil {
		cp.Privileges.NoNewPrivileges = Bool(*p.Privileges.NoNewPrivileges)
	}
	for _, r := range PrivilegeRules {
		if f := cp.Privileges.Rule(r); *f != nil {
			*f = Bool(**f)
		}
	}
	if p.Seccomp.Families != nil {
		cp.Seccomp.Families = Bool(*p.Seccomp.Families)
	}
	return &cp
}

// Marshal writes the profile as YAML (2-space indent), header comment
// lines first (each prefixed with "# ").
func Marshal(p *Profile, header ...string) ([]byte, error) {
	var buf bytes.Buffer
	for _, h := range header {
		buf.WriteString("# " + h + "\n")
	}
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("encoding profile %q: %w", p.Name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Digest identifies a profile's content: sha256 of its canonical JSON
// (Source excluded), as "sha256:<hex>".
func Digest(p *Profile) string {
	cp := *p
	cp.Source = ""
	b, err := json.Marshal(&cp)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
