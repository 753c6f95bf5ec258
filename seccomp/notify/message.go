package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// maxMessage bounds the JSON a runtime may send: the OCI state with its
// annotations.
const maxMessage = 1 << 20

// maxFDs bounds the descriptors accepted with one message (runc sends one).
const maxFDs = 8

// errIncomplete says that more bytes are needed to finish the JSON value.
var errIncomplete = errors.New("incomplete message")

// message is what a runtime sends: specs.ContainerProcessState. Older
// agents' peers sent a bare specs.State; its fields are accepted at the
// top level too.
type message struct {
	specs.ContainerProcessState
	// Bare specs.State fields.
	ID          string            `json:"id"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Annotations map[string]string `json:"annotations"`
}

// parseMessage decodes the JSON a runtime sent with nfds descriptors and
// returns the container it describes and the index of the seccomp notify
// descriptor among them. errIncomplete means that data is a prefix of a
// JSON value: read more.
func parseMessage(data []byte, nfds int) (Container, int, error) {
	var m message
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return Container{}, -1, errIncomplete
		}
		return Container{}, -1, fmt.Errorf("decoding the container process state: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Container{}, -1, fmt.Errorf("decoding the container process state: trailing data after the JSON value")
	}
	c := Container{
		ID:          m.State.ID,
		Bundle:      m.State.Bundle,
		Pid:         m.State.Pid,
		ProcessPid:  m.Pid,
		Status:      string(m.State.Status),
		Annotations: m.State.Annotations,
		Metadata:    m.Metadata,
	}
	if c.ID == "" { // a bare specs.State: its pid is the container's
		c.ID, c.Bundle, c.Annotations, c.Status, c.Pid = m.ID, m.Bundle, m.Annotations, m.Status, m.Pid
	}
	if c.ID == "" {
		return Container{}, -1, fmt.Errorf("decoding the container process state: no container id")
	}
	if c.ProcessPid == 0 {
		c.ProcessPid = c.Pid
	}
	c.Namespace = namespaceFromBundle(c.Bundle, c.ID)

	idx := -1
	for i, name := range m.Fds {
		if name == specs.SeccompFdName {
			idx = i
			break
		}
	}
	switch {
	case idx < 0 && len(m.Fds) > 0:
		return c, -1, fmt.Errorf("container %s: no %q among the descriptors %q", c.ID, specs.SeccompFdName, m.Fds)
	case idx < 0 && nfds == 1:
		idx = 0 // unnamed: the only one
	case idx < 0:
		return c, -1, fmt.Errorf("container %s: %d descriptors and none named %q", c.ID, nfds, specs.SeccompFdName)
	case idx >= nfds:
		return c, -1, fmt.Errorf("container %s: %q is descriptor %d but %d were received", c.ID, specs.SeccompFdName, idx, nfds)
	}
	return c, idx, nil
}

// namespaceFromBundle returns the containerd namespace of a bundle laid out
// as containerd's task directory .../<namespace>/<id>, or "".
func namespaceFromBundle(bundle, id string) string {
	if bundle == "" || !filepath.IsAbs(bundle) {
		return ""
	}
	clean := filepath.Clean(bundle)
	if filepath.Base(clean) != id {
		return ""
	}
	ns := filepath.Base(filepath.Dir(clean))
	if ns == "/" || ns == "." || ns == "" {
		return ""
	}
	return ns
}
