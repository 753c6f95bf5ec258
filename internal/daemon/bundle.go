package daemon

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"

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
	bundle, err := os.Readlink(m.fs.Path(strconv.Itoa(st.PPID), "cwd"))
	if err != nil || filepath.Base(bundle) != id {
		return nil, ""
	}
	path := filepath.Join(m.fs.Path(strconv.Itoa(st.PPID), "cwd"), "config.json")
	if cp, _ := hooks.FindCopy(m.cfg.RunDir, bundle, id); cp != "" {
		path = cp
	}
	f, err := os.Open(path)
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
