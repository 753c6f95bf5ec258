package daemon

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"

	"github.com/confinehq/confine/hooks"
)

// bundleAnnotations reads the annotations confine-runc gave a running
// container. containerd keeps its own copy of the spec, without them; the
// bundle is the shim's working directory, and the shim is the parent of
// the container's init. confine-runc leaves the bundle as the user wrote
// it and keeps the spec runc read in a private copy under run_dir
// (hooks.FindCopy); a bundle edited in place by an older confine-runc is
// read as before.
func (m *monitor) bundleAnnotations(pid int, id string) (map[string]string, string) {
	p, err := m.fs.Proc(pid)
	if err != nil {
		return nil, ""
	}
	st, err := p.Stat()
	if err != nil || st.PPID <= 1 {
		return nil, ""
	}
	shim, err := m.fs.Proc(st.PPID)
	if err != nil {
		return nil, ""
	}
	bundle, err := shim.Cwd()
	if err != nil || filepath.Base(bundle) != id {
		return nil, ""
	}
	var f *os.File
	if cp, _ := hooks.FindCopy(m.cfg.RunDir, bundle, id); cp != "" {
		f, err = os.Open(cp)
	} else {
		f, err = shim.OpenInCwd("config.json")
	}
	if err != nil {
		return nil, bundle
	}
	defer f.Close()
	var spec struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.NewDecoder(io.LimitReader(f, hooks.MaxSpecBytes)).Decode(&spec); err != nil {
		return nil, bundle
	}
	return spec.Annotations, bundle
}
