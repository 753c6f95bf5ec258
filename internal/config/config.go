// Package config reads confine.toml, the one configuration file shared by
// all four binaries. Every key has a default, so no file is needed.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// DefaultPath is where the configuration lives unless CONFINE_CONFIG says otherwise.
const DefaultPath = "/etc/confine/confine.toml"

// EnvPath names the environment variable that overrides DefaultPath.
const EnvPath = "CONFINE_CONFIG"

// Fail modes: what confine-runc and confine-hook do when confined is unreachable.
const (
	FailClosed = "closed"
	FailOpen   = "open"
)

// Values of process_events.
const (
	ProcessEventsAuto          = "auto"
	ProcessEventsBPF           = "bpf"
	ProcessEventsProcConnector = "proc_connector"
	// ProcessEventsNone: no process events, /proc rescans only (slower
	// detection; what the benchmarks compare against).
	ProcessEventsNone = "none"
)

// Config is the daemon's and the tools' configuration.
type Config struct {
	ContainerdAddress string   `toml:"containerd_address" json:"containerd_address"`
	Namespaces        []string `toml:"namespaces" json:"namespaces"`
	RuncPath          string   `toml:"runc_path" json:"runc_path"`
	ProfilesDir       string   `toml:"profiles_dir" json:"profiles_dir"`
	StateDir          string   `toml:"state_dir" json:"state_dir"`
	RunDir            string   `toml:"run_dir" json:"run_dir"`
	DefaultProfile    string   `toml:"default_profile" json:"default_profile"`
	FailMode          string   `toml:"fail_mode" json:"fail_mode"`
	AlertSinks        []string `toml:"alert_sinks" json:"alert_sinks"`
	MetricsAddress    string   `toml:"metrics_address" json:"metrics_address"`
	RescanInterval    Duration `toml:"rescan_interval" json:"rescan_interval"`
	// HookPath is the confine-hook binary injected into specs; empty means
	// "confine-hook next to the running binary, else /usr/bin/confine-hook".
	HookPath string `toml:"hook_path" json:"hook_path"`
	// DockerSocket is the Docker Engine API socket used to resolve labels
	// and image names of containers in the moby namespace.
	DockerSocket string `toml:"docker_socket" json:"docker_socket"`
	// DockerDataRoot is dockerd's --data-root: config.v2.json there is
	// the fallback when the Engine API does not answer.
	DockerDataRoot string `toml:"docker_data_root" json:"docker_data_root"`
	// DockerNamespace is the containerd namespace dockerd uses.
	DockerNamespace string `toml:"docker_namespace" json:"docker_namespace"`
	// ProcessEvents is where process events come from: ProcessEventsAuto
	// (BPF, else the proc connector), ProcessEventsBPF (BPF or refuse to
	// start), ProcessEventsProcConnector or ProcessEventsNone.
	ProcessEvents string `toml:"process_events" json:"process_events"`
	// FanotifyGuard puts containers with exec.allow, files.deny or
	// files.readOnly behind fanotify permission events (refused before
	// they happen); false leaves them to Landlock and the monitor.
	FanotifyGuard bool `toml:"fanotify_guard" json:"fanotify_guard"`
	// SecretWatch reports every open of a container's credential files
	// (fanotify notification marks); false turns the watch off.
	SecretWatch bool `toml:"secret_watch" json:"secret_watch"`
	// CapabilityRecorder attaches the BPF cap_capable recorder (the
	// capabilities containers use); false leaves it out (its cost).
	CapabilityRecorder bool `toml:"capability_recorder" json:"capability_recorder"`
	// ProcRoot is the procfs confined reads processes from.
	ProcRoot string `toml:"proc_root" json:"proc_root"`
	// CPUProfile, when set, is a file confined writes a Go CPU profile of
	// its first CPUProfileFor to (benchmarks: where its time goes).
	CPUProfile    string   `toml:"cpu_profile" json:"cpu_profile"`
	CPUProfileFor Duration `toml:"cpu_profile_for" json:"cpu_profile_for"`
	// Landlock false keeps confine-init (Landlock) out of enforce
	// containers: their file and exec rules are then enforced by the
	// fanotify guard and the monitor only, as on kernels without Landlock.
	Landlock bool `toml:"landlock" json:"landlock"`

	// Fleets: profiles pulled from OCI registries (sources.go).
	ProfileSources   []string `toml:"profile_sources" json:"profile_sources"`
	ProfilePoll      Duration `toml:"profile_poll" json:"profile_poll"`
	RequireSignature bool     `toml:"require_signature" json:"require_signature"`
	SignatureKeys    []string `toml:"signature_keys" json:"signature_keys"`
	RegistryAuthFile string   `toml:"registry_auth_file" json:"registry_auth_file"`
	RegistryCAFiles  []string `toml:"registry_ca_files" json:"registry_ca_files"`

	// Path is the file the configuration was read from ("" for defaults).
	Path string `toml:"-" json:"path"`
}

// Duration is a time.Duration written as "2s" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText parses "2s", "500ms".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as Go prints it.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Default returns the built-in configuration.
func Default() *Config {
	return &Config{
		ContainerdAddress:  "/run/containerd/containerd.sock",
		Namespaces:         []string{},
		RuncPath:           "/usr/bin/runc",
		ProfilesDir:        "/etc/confine/profiles.d",
		StateDir:           "/var/lib/confine",
		RunDir:             "/run/confine",
		DefaultProfile:     "baseline",
		FailMode:           FailClosed,
		AlertSinks:         []string{"journald"},
		MetricsAddress:     "",
		RescanInterval:     Duration{2 * time.Second},
		DockerSocket:       "/run/docker.sock",
		DockerDataRoot:     "/var/lib/docker",
		DockerNamespace:    "moby",
		ProfileSources:     []string{},
		ProfilePoll:        Duration{time.Minute},
		SignatureKeys:      []string{},
		RegistryCAFiles:    []string{},
		ProcessEvents:      ProcessEventsAuto,
		Landlock:           true,
		FanotifyGuard:      true,
		SecretWatch:        true,
		CapabilityRecorder: true,
		ProcRoot:           "/proc",
		CPUProfileFor:      Duration{30 * time.Second},
	}
}

// Load reads the file named by CONFINE_CONFIG, else DefaultPath. A missing
// default file is not an error (defaults apply); a missing file named by
// CONFINE_CONFIG is.
func Load() (*Config, error) {
	if p := os.Getenv(EnvPath); p != "" {
		return LoadFile(p)
	}
	c, err := LoadFile(DefaultPath)
	if errors.Is(err, os.ErrNotExist) {
		return Default(), nil
	}
	return c, err
}

// LoadFile reads one configuration file on top of the defaults.
func LoadFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading configuration: %w", err)
	}
	c, err := Parse(data, path)
	if err != nil {
		return nil, err
	}
	c.Path = path
	return c, nil
}

// Parse decodes TOML on top of the defaults and validates the result. Errors
// name the file, and the line where TOML knows it.
func Parse(data []byte, path string) (*Config, error) {
	c := Default()
	md, err := toml.Decode(string(data), c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d: %s", path, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, 0, len(und))
		for _, k := range und {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		line := lineOfKey(string(data), und[0].String())
		return nil, fmt.Errorf("%s:%d: unknown key %q", path, line, keys[0])
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func lineOfKey(src, key string) int {
	last := key
	if i := strings.LastIndex(key, "."); i >= 0 {
		last = key[i+1:]
	}
	for i, l := range strings.Split(src, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, last) && strings.Contains(t, "=") && strings.TrimSpace(t[:strings.Index(t, "=")]) == last {
			return i + 1
		}
	}
	return 0
}

// Validate checks values that the types do not.
func (c *Config) Validate() error {
	switch c.FailMode {
	case FailClosed, FailOpen:
	default:
		return fmt.Errorf("key fail_mode: %q is not %q or %q", c.FailMode, FailClosed, FailOpen)
	}
	for k, v := range map[string]string{
		"containerd_address": c.ContainerdAddress, "runc_path": c.RuncPath,
		"profiles_dir": c.ProfilesDir, "state_dir": c.StateDir, "run_dir": c.RunDir,
		"proc_root": c.ProcRoot,
	} {
		if v == "" {
			return fmt.Errorf("key %s: must not be empty", k)
		}
		if k != "containerd_address" && !filepath.IsAbs(v) {
			return fmt.Errorf("key %s: %q is not an absolute path", k, v)
		}
	}
	if c.DefaultProfile == "" {
		return errors.New("key default_profile: must not be empty")
	}
	if c.CPUProfile != "" && !filepath.IsAbs(c.CPUProfile) {
		return fmt.Errorf("key cpu_profile: %q is not an absolute path", c.CPUProfile)
	}
	if c.CPUProfileFor.Duration <= 0 {
		return fmt.Errorf("key cpu_profile_for: %s is not a positive duration", c.CPUProfileFor)
	}
	if c.RescanInterval.Duration < 100*time.Millisecond {
		return fmt.Errorf("key rescan_interval: %s is below the 100ms minimum", c.RescanInterval)
	}
	if err := c.validateSources(); err != nil {
		return err
	}
	switch c.ProcessEvents {
	case ProcessEventsAuto, ProcessEventsBPF, ProcessEventsProcConnector, ProcessEventsNone:
	default:
		return fmt.Errorf("key process_events: %q is not auto, bpf, proc_connector or none", c.ProcessEvents)
	}
	for _, s := range c.AlertSinks {
		switch {
		case s == "journald", s == "stderr":
		case strings.HasPrefix(s, "jsonl:") && filepath.IsAbs(strings.TrimPrefix(s, "jsonl:")):
		case strings.HasPrefix(s, "journald:") && filepath.IsAbs(strings.TrimPrefix(s, "journald:")):
		default:
			return fmt.Errorf("key alert_sinks: %q is not journald, journald:/absolute/socket, stderr or jsonl:/absolute/path", s)
		}
	}
	return nil
}

// APISocket is the path of confined's API socket.
func (c *Config) APISocket() string { return filepath.Join(c.RunDir, "api.sock") }

// LearnedDir is where learned profiles are written.
func (c *Config) LearnedDir() string { return filepath.Join(c.StateDir, "learned") }
