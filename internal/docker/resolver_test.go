package docker

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Fixtures captured from dockerd 20.10.24 (ids scrubbed): web1 was run with
// --label confine.profile=web --label app=web --security-opt seccomp=unconfined,
// plain was created with neither.
const (
	dataRoot = "testdata/docker"
	web1ID   = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	plainID  = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
)

var web1 = Info{
	ID: web1ID, Name: "web1", Image: "localhost/busybox:confine",
	Labels:            map[string]string{"app": "web", "confine.profile": "web"},
	SeccompUnconfined: true,
}

// fakeEngine serves a handler on a unix socket, like dockerd's -H unix://.
type fakeEngine struct {
	Socket   string
	requests atomic.Int32
	last     atomic.Pointer[http.Request]
}

func newFakeEngine(t *testing.T, h http.HandlerFunc) *fakeEngine {
	t.Helper()
	dir, err := os.MkdirTemp("", "dk-") // short: sun_path is 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	f := &fakeEngine{Socket: filepath.Join(dir, "docker.sock")}
	ln, err := net.Listen("unix", f.Socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		f.last.Store(r)
		h(w, r)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return f
}

// listHandler answers GET /containers/json with the captured list when the
// id filter names a prefix of web1, and [] otherwise, as dockerd does.
func listHandler(t *testing.T) http.HandlerFunc {
	body, err := os.ReadFile(filepath.Join(dataRoot, "api-containers-list.json"))
	if err != nil {
		t.Fatal(err)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/containers/json" {
			http.Error(w, `{"message":"page not found"}`, http.StatusNotFound)
			return
		}
		var f map[string][]string
		if err := json.Unmarshal([]byte(r.URL.Query().Get("filters")), &f); err != nil || len(f["id"]) != 1 {
			http.Error(w, `{"message":"bad filters"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(web1ID, f["id"][0]) {
			w.Write(body)
			return
		}
		w.Write([]byte("[]\n"))
	}
}

func missingSocket(t *testing.T) string {
	return filepath.Join(t.TempDir(), "docker.sock")
}

func TestLookupAPI(t *testing.T) {
	eng := newFakeEngine(t, listHandler(t))
	r := &Resolver{Socket: eng.Socket, DataRoot: dataRoot, Timeout: 5 * time.Second}
	got, err := r.Lookup(context.Background(), web1ID)
	if err != nil {
		t.Fatal(err)
	}
	want := web1
	want.Source = SourceAPI
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("Lookup = %+v\nwant     %+v", *got, want)
	}
	req := eng.last.Load()
	if q := req.URL.Query(); q.Get("all") != "1" || q.Get("filters") != `{"id":["`+web1ID+`"]}` {
		t.Errorf("request %s, want the list filtered by id with all=1", req.URL)
	}
}

// The list has no HostConfig: without a data root the API answer cannot
// know about seccomp=unconfined, and says nothing rather than guess.
func TestLookupAPIWithoutDataRoot(t *testing.T) {
	eng := newFakeEngine(t, listHandler(t))
	r := &Resolver{Socket: eng.Socket}
	got, err := r.Lookup(context.Background(), web1ID)
	if err != nil {
		t.Fatal(err)
	}
	want := web1
	want.Source, want.SeccompUnconfined = SourceAPI, false
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("Lookup = %+v\nwant     %+v", *got, want)
	}
}

func TestLookupFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		id   string
		want Info
	}{
		{
			name: "labels and seccomp=unconfined",
			id:   web1ID,
			want: Info{ID: web1ID, Name: "web1", Image: "localhost/busybox:confine",
				Labels:            map[string]string{"app": "web", "confine.profile": "web"},
				SeccompUnconfined: true, Source: SourceFile},
		},
		{
			name: "no labels, Docker's default seccomp",
			id:   plainID,
			want: Info{ID: plainID, Name: "plain", Image: "localhost/busybox:confine",
				Labels: map[string]string{}, Source: SourceFile},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Resolver{Socket: missingSocket(t), DataRoot: dataRoot}
			got, err := r.Lookup(context.Background(), tc.id)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tc.want) {
				t.Fatalf("Lookup = %+v\nwant     %+v", *got, tc.want)
			}
		})
	}
}

// copyFixture copies web1's directory into a data root of the test's own,
// with config.v2.json and hostconfig.json replaced where given.
func copyFixture(t *testing.T, configV2, hostconfig *string) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "containers", web1ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, repl := range map[string]*string{"config.v2.json": configV2, "hostconfig.json": hostconfig} {
		data, err := os.ReadFile(filepath.Join(dataRoot, "containers", web1ID, name))
		if err != nil {
			t.Fatal(err)
		}
		if repl != nil {
			data = []byte(*repl)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func ptr(s string) *string { return &s }

func TestLookupErrors(t *testing.T) {
	garbage := func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"Id": `)) }
	failing := func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"message":"the daemon is shutting down"}`, http.StatusInternalServerError)
	}
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc // nil: no Engine API at the socket
		root    func(t *testing.T) string
		id      string
		want    []string // substrings of the error
		is      error
	}{
		{
			name: "both unreachable",
			root: func(t *testing.T) string { return t.TempDir() },
			id:   web1ID,
			want: []string{"looking up Docker container " + web1ID, "engine API on ", "docker.sock", "connect: no such file or directory",
				"containers/" + web1ID + "/config.v2.json", "no such file or directory"},
			is: os.ErrNotExist,
		},
		{
			name: "API says no such container: no fallback",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(`[{"Id":"` + web1ID + `x"}]`)) // the filter matched a longer ID only
			},
			root: func(t *testing.T) string { return dataRoot },
			id:   web1ID,
			want: []string{"engine API on ", "no such Docker container"},
			is:   ErrNotFound,
		},
		{
			name:    "API error and malformed config.v2.json",
			handler: failing,
			root: func(t *testing.T) string {
				return copyFixture(t, ptr(`{"ID": "`+web1ID+`",`+"\n"+`"Config": {"Labels": {"a": }}}`), nil)
			},
			id: web1ID,
			want: []string{"500 Internal Server Error: the daemon is shutting down",
				web1ID + "/config.v2.json: line 2, column 28", "invalid character"},
		},
		{
			name:    "API garbage and a wrongly typed field",
			handler: garbage,
			root: func(t *testing.T) string {
				return copyFixture(t, ptr(`{"ID": "`+web1ID+`", "Config": {"Labels": ["app=web"]}}`), nil)
			},
			id:   web1ID,
			want: []string{"GET /containers/json: decoding answer", web1ID + "/config.v2.json: field Config.Labels: got JSON array, want map[string]string"},
		},
		{
			name:    "config.v2.json of another container",
			handler: garbage,
			root:    func(t *testing.T) string { return copyFixture(t, ptr(`{"ID": "`+plainID+`", "Config": {}}`), nil) },
			id:      web1ID,
			want:    []string{"config.v2.json: field ID: \"" + plainID + "\", want \"" + web1ID + "\""},
		},
		{
			name:    "config.v2.json without Config",
			handler: garbage,
			root:    func(t *testing.T) string { return copyFixture(t, ptr(`{"ID": "`+web1ID+`"}`), nil) },
			id:      web1ID,
			want:    []string{"config.v2.json: field Config: missing"},
		},
		{
			name:    "malformed hostconfig.json",
			handler: garbage,
			root:    func(t *testing.T) string { return copyFixture(t, nil, ptr(`{"SecurityOpt": "seccomp=unconfined"}`)) },
			id:      web1ID,
			want:    []string{web1ID + "/hostconfig.json: field SecurityOpt: got JSON string, want []string"},
		},
		{
			name: "ID that is a path",
			root: func(t *testing.T) string { return dataRoot },
			id:   "../" + web1ID,
			want: []string{`looking up Docker container "../` + web1ID + `": invalid container id`},
			is:   ErrInvalidID,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock := missingSocket(t)
			if tc.handler != nil {
				sock = newFakeEngine(t, tc.handler).Socket
			}
			r := &Resolver{Socket: sock, DataRoot: tc.root(t), Timeout: 5 * time.Second}
			got, err := r.Lookup(context.Background(), tc.id)
			if err == nil {
				t.Fatalf("Lookup = %+v, want an error", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
			// Failures are not cached: the same lookup fails again.
			if _, err2 := r.Lookup(context.Background(), tc.id); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("second lookup: %v, want %v", err2, err)
			}
		})
	}
}

// An Engine API that accepts but never answers costs one Timeout, then the
// file answers.
func TestLookupAPITimeoutFallsBack(t *testing.T) {
	release := make(chan struct{})
	eng := newFakeEngine(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	r := &Resolver{Socket: eng.Socket, DataRoot: dataRoot, Timeout: 100 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := r.Lookup(ctx, web1ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Source != SourceFile || got.Labels["confine.profile"] != "web" {
		t.Fatalf("Lookup = %+v, want web1 from config.v2.json", got)
	}
}

// When the caller's context is done, the error is the caller's and the
// fallback is not read.
func TestLookupCancelled(t *testing.T) {
	eng := newFakeEngine(t, listHandler(t))
	r := &Resolver{Socket: eng.Socket, DataRoot: dataRoot}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Lookup(ctx, web1ID); !errors.Is(err, context.Canceled) {
		t.Fatalf("Lookup with a cancelled context: %v", err)
	}
}

func TestLookupCache(t *testing.T) {
	eng := newFakeEngine(t, listHandler(t))
	r := &Resolver{Socket: eng.Socket}
	ctx := context.Background()
	first, err := r.Lookup(ctx, web1ID)
	if err != nil {
		t.Fatal(err)
	}
	first.Labels["confine.profile"] = "changed by the caller"
	second, err := r.Lookup(ctx, web1ID)
	if err != nil {
		t.Fatal(err)
	}
	if n := eng.requests.Load(); n != 1 {
		t.Errorf("%d API requests for two lookups, want 1 (cached)", n)
	}
	if second.Labels["confine.profile"] != "web" {
		t.Errorf("a caller's change reached the cache: %v", second.Labels)
	}
	r.Forget(web1ID)
	if _, err := r.Lookup(ctx, web1ID); err != nil {
		t.Fatal(err)
	}
	if n := eng.requests.Load(); n != 2 {
		t.Errorf("%d API requests after Forget, want 2", n)
	}
}

func TestContainerName(t *testing.T) {
	for _, tc := range []struct {
		name  string
		names []string
		want  string
	}{
		{name: "one name", names: []string{"/web1"}, want: "web1"},
		{name: "link aliases first", names: []string{"/app/db", "/db"}, want: "db"},
		{name: "none", names: nil, want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := containerName(tc.names); got != tc.want {
				t.Errorf("containerName(%q) = %q, want %q", tc.names, got, tc.want)
			}
		})
	}
}

func TestSeccompUnconfined(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []string
		want bool
	}{
		{name: "none", opts: nil, want: false},
		{name: "equals", opts: []string{"no-new-privileges", "seccomp=unconfined"}, want: true},
		{name: "legacy colon", opts: []string{"seccomp:unconfined"}, want: true},
		{name: "a profile", opts: []string{`seccomp={"defaultAction":"SCMP_ACT_ALLOW"}`}, want: false},
		{name: "apparmor unconfined", opts: []string{"apparmor=unconfined"}, want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := hostConfig{SecurityOpt: tc.opts}
			if got := h.seccompUnconfined(); got != tc.want {
				t.Errorf("seccompUnconfined(%q) = %v, want %v", tc.opts, got, tc.want)
			}
		})
	}
}

func TestPosition(t *testing.T) {
	data := []byte("ab\ncd\n")
	for _, tc := range []struct {
		off       int64
		line, col int
	}{{0, 1, 1}, {2, 1, 2}, {3, 2, 1}, {5, 2, 2}, {99, 3, 1}} {
		if l, c := position(data, tc.off); l != tc.line || c != tc.col {
			t.Errorf("position(%d) = %d:%d, want %d:%d", tc.off, l, c, tc.line, tc.col)
		}
	}
}

func FuzzParseConfigV2(f *testing.F) {
	for _, id := range []string{web1ID, plainID} {
		data, err := os.ReadFile(filepath.Join(dataRoot, "containers", id, "config.v2.json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"ID":"` + web1ID + `","Config":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := parseConfigV2(data, web1ID)
		if err == nil && in.ID != web1ID {
			t.Fatalf("accepted a config of %q", in.ID)
		}
	})
}

// A caller's deadline shorter than Timeout still leaves time for the file.
func TestLookupAPIHangsPastCallerDeadline(t *testing.T) {
	release := make(chan struct{})
	eng := newFakeEngine(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	r := &Resolver{Socket: eng.Socket, DataRoot: dataRoot, Timeout: time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	got, err := r.Lookup(ctx, web1ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Source != SourceFile {
		t.Fatalf("Lookup = %+v, want web1 from config.v2.json", got)
	}
}
