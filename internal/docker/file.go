package docker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// maxFile bounds what is read of config.v2.json or hostconfig.json.
const maxFile = 8 << 20

// configV2 is the part of dockerd's <data-root>/containers/<id>/config.v2.json
// confine reads. It has no HostConfig: that is hostconfig.json beside it.
type configV2 struct {
	ID     string `json:"ID"`
	Name   string `json:"Name"`
	Config *struct {
		Image  string            `json:"Image"`
		Labels map[string]string `json:"Labels"`
	} `json:"Config"`
	// SeccompProfile is "unconfined" for --security-opt seccomp=unconfined,
	// else the profile's JSON (or empty for Docker's default).
	SeccompProfile string `json:"SeccompProfile"`
}

// hostConfig is the part of hostconfig.json confine reads.
type hostConfig struct {
	SecurityOpt []string `json:"SecurityOpt"`
}

func (h *hostConfig) seccompUnconfined() bool {
	for _, o := range h.SecurityOpt {
		// dockerd accepts "=" and the legacy ":" separator.
		if o == "seccomp=unconfined" || o == "seccomp:unconfined" {
			return true
		}
	}
	return false
}

func (r *Resolver) dir(id string) string {
	return filepath.Join(r.DataRoot, "containers", id)
}

// readContainerDir reads config.v2.json (required) and hostconfig.json
// (optional) of container id. Errors name the file and, for bad content,
// the field or the line and column.
func readContainerDir(dir, id string) (*Info, error) {
	path := filepath.Join(dir, "config.v2.json")
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	in, err := parseConfigV2(data, id)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	hc, err := readHostConfig(dir)
	switch {
	case err == nil:
		in.SeccompUnconfined = in.SeccompUnconfined || hc.seccompUnconfined()
	case errors.Is(err, os.ErrNotExist):
		// Older engines kept HostConfig elsewhere; SeccompProfile suffices.
	default:
		return nil, err
	}
	return in, nil
}

// parseConfigV2 decodes config.v2.json of container id.
func parseConfigV2(data []byte, id string) (*Info, error) {
	var c configV2
	if err := decodeJSON(data, &c); err != nil {
		return nil, err
	}
	if c.ID != id {
		return nil, fmt.Errorf("field ID: %q, want %q", c.ID, id)
	}
	if c.Config == nil {
		return nil, errors.New("field Config: missing")
	}
	return &Info{
		ID:                c.ID,
		Name:              strings.TrimPrefix(c.Name, "/"),
		Image:             c.Config.Image,
		Labels:            c.Config.Labels,
		SeccompUnconfined: c.SeccompProfile == "unconfined",
	}, nil
}

func readHostConfig(dir string) (*hostConfig, error) {
	path := filepath.Join(dir, "hostconfig.json")
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	var h hostConfig
	if err := decodeJSON(data, &h); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &h, nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *PathError names the file
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, maxFile+1)); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if buf.Len() > maxFile {
		return nil, fmt.Errorf("reading %s: larger than %d bytes", path, maxFile)
	}
	return buf.Bytes(), nil
}

// decodeJSON decodes data into v; a syntax error gives the line and column,
// a type error the field path (e.g. "Config.Labels").
func decodeJSON(data []byte, v any) error {
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := position(data, se.Offset)
		return fmt.Errorf("line %d, column %d: %s", line, col, se.Error())
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "(top level)"
		}
		line, col := position(data, te.Offset)
		return fmt.Errorf("field %s: got JSON %s, want %s (line %d, column %d)", field, te.Value, te.Type, line, col)
	}
	return err
}

// position turns a byte offset into a 1-based line and column.
func position(data []byte, off int64) (line, col int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	before := data[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1)
	if col < 1 {
		col = 1
	}
	return line, col
}
