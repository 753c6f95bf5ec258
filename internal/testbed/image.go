package testbed

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const (
	// ImageRef is the name the testbed image carries once imported.
	ImageRef = "localhost/busybox:confine"

	// DefaultBusybox is where Debian's busybox-static installs its binary.
	// CONFINE_BUSYBOX names another one.
	DefaultBusybox = "/bin/busybox"

	// ImagePathEnv is the image's PATH.
	ImagePathEnv = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

	// ShadowContent is the fake /etc/shadow of the image (mode 0640): tests use it
	// as a secret that must not be read.
	ShadowContent = "root:$6$confine$notarealhashnotarealhashnotarealhash:19700:0:99999:7:::\n" +
		"nobody:*:19700:0:99999:7:::\n"

	// IndexHTML is the content of /www/index.html in the image.
	IndexHTML = "<html><body>confine testbed</body></html>\n"

	// imageFormat changes whenever the builder's output changes, so that cached
	// tars from an older builder are not reused.
	imageFormat = "confine-testbed-image-v1"
)

// entryTime is the mtime of every entry: a fixed date keeps the tar reproducible.
var entryTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// BusyboxPath returns the busybox binary the image is built from:
// $CONFINE_BUSYBOX, else /bin/busybox.
func BusyboxPath() string {
	if p := os.Getenv("CONFINE_BUSYBOX"); p != "" {
		return p
	}
	return DefaultBusybox
}

var (
	buildOnce  sync.Once
	buildPath  string
	buildError error
)

// Image builds the testbed image once per test binary (cached across runs in
// os.TempDir, keyed by the busybox binary's hash) and returns the path of the
// OCI layout tar. It skips or fails like [RequireTools] when busybox is missing.
func Image(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(BusyboxPath()); err != nil {
		RequireTools(t, "busybox")
	}
	p, err := BuildImage()
	if err != nil {
		t.Fatalf("building testbed image: %v", err)
	}
	return p
}

// BuildImage is [Image] without a testing.TB: it returns the path of the cached
// OCI layout tar, building it on first use.
func BuildImage() (string, error) {
	buildOnce.Do(func() {
		buildPath, buildError = buildCached(BusyboxPath())
	})
	return buildPath, buildError
}

func buildCached(busybox string) (string, error) {
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return "", fmt.Errorf("reading busybox: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(imageFormat))
	h.Write(bin)
	key := hex.EncodeToString(h.Sum(nil))[:16]

	dir := filepath.Join(os.TempDir(), "confine-testbed")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating image cache: %w", err)
	}
	dst := filepath.Join(dir, "busybox-"+key+".tar")
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}

	// Several test binaries may build at once: each writes its own temp file and
	// renames it into place; the results are identical.
	f, err := os.CreateTemp(dir, ".busybox-*.tar")
	if err != nil {
		return "", fmt.Errorf("creating image file: %w", err)
	}
	defer os.Remove(f.Name())
	if err := WriteImage(f, busybox); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", fmt.Errorf("writing image: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("writing image: %w", err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return "", fmt.Errorf("writing image: %w", err)
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		return "", fmt.Errorf("writing image: %w", err)
	}
	return dst, nil
}

// WriteImage writes an OCI image layout tar (oci-layout, index.json, blobs) with
// a single uncompressed layer (see [WriteRootfs]) to w. The index entry carries
// the annotation io.containerd.image.name = [ImageRef], which is what
// `ctr images import` and the Go client's Import name the image by. The output
// depends only on the busybox binary.
func WriteImage(w io.Writer, busybox string) error {
	var layer bytes.Buffer
	if err := WriteRootfs(&layer, busybox); err != nil {
		return err
	}
	layerDesc := ocispec.Descriptor{
		MediaType: ocispec.MediaTypeImageLayer,
		Digest:    digest.FromBytes(layer.Bytes()),
		Size:      int64(layer.Len()),
	}
	platform := ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH}

	config, err := json.Marshal(ocispec.Image{
		Platform: platform,
		Config: ocispec.ImageConfig{
			Env:        []string{ImagePathEnv},
			Cmd:        []string{"/bin/sh"},
			WorkingDir: "/",
		},
		RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{layerDesc.Digest}},
	})
	if err != nil {
		return fmt.Errorf("encoding image config: %w", err)
	}
	configDesc := ocispec.Descriptor{
		MediaType: ocispec.MediaTypeImageConfig,
		Digest:    digest.FromBytes(config),
		Size:      int64(len(config)),
	}

	manifest, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    configDesc,
		Layers:    []ocispec.Descriptor{layerDesc},
	})
	if err != nil {
		return fmt.Errorf("encoding image manifest: %w", err)
	}
	manifestDesc := ocispec.Descriptor{
		MediaType:   ocispec.MediaTypeImageManifest,
		Digest:      digest.FromBytes(manifest),
		Size:        int64(len(manifest)),
		Platform:    &platform,
		Annotations: map[string]string{"io.containerd.image.name": ImageRef},
	}

	index, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{manifestDesc},
	})
	if err != nil {
		return fmt.Errorf("encoding image index: %w", err)
	}
	layout, err := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	if err != nil {
		return fmt.Errorf("encoding oci-layout: %w", err)
	}

	blob := func(d digest.Digest) string {
		return "blobs/" + d.Algorithm().String() + "/" + d.Encoded()
	}
	entries := []tarEntry{
		dirEntry("blobs/", 0o755),
		dirEntry("blobs/sha256/", 0o755),
		fileEntry("oci-layout", 0o644, layout),
		fileEntry("index.json", 0o644, index),
		fileEntry(blob(layerDesc.Digest), 0o644, layer.Bytes()),
		fileEntry(blob(configDesc.Digest), 0o644, config),
		fileEntry(blob(manifestDesc.Digest), 0o644, manifest),
	}
	if err := writeTar(w, entries); err != nil {
		return fmt.Errorf("writing image tar: %w", err)
	}
	return nil
}

// WriteRootfs writes the image's root filesystem as a plain tar to w (the layer
// of [WriteImage]; also usable with `docker import`): /bin/busybox, a symlink to
// it for every applet `busybox --list-full` names, /etc/passwd and /etc/group
// (root, nobody 65534), /etc/shadow (0640), /tmp (1777), /root, /www/index.html.
// Entries are sorted, owned by 0:0 and carry a fixed mtime.
func WriteRootfs(w io.Writer, busybox string) error {
	if err := checkStatic(busybox); err != nil {
		return err
	}
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return fmt.Errorf("reading busybox: %w", err)
	}
	out, err := exec.Command(busybox, "--list-full").Output()
	if err != nil {
		return fmt.Errorf("listing busybox applets: %w", err)
	}

	files := map[string]tarEntry{}
	add := func(e tarEntry) { files[strings.TrimSuffix(e.hdr.Name, "/")] = e }

	for _, d := range []string{"bin", "dev", "etc", "home", "proc", "run", "sbin", "sys",
		"usr", "usr/bin", "usr/sbin", "var", "www"} {
		add(dirEntry(d+"/", 0o755))
	}
	add(dirEntry("root/", 0o700))
	add(dirEntry("tmp/", 0o1777))
	add(fileEntry("bin/busybox", 0o755, bin))
	add(fileEntry("etc/passwd", 0o644, []byte(
		"root:x:0:0:root:/root:/bin/sh\n"+
			"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")))
	add(fileEntry("etc/group", 0o644, []byte("root:x:0:\nnobody:x:65534:\n")))
	add(fileEntry("etc/shadow", 0o640, []byte(ShadowContent)))
	add(fileEntry("etc/hostname", 0o644, []byte("testbed\n")))
	add(fileEntry("www/index.html", 0o644, []byte(IndexHTML)))

	for _, line := range strings.Split(string(out), "\n") {
		name := strings.TrimPrefix(strings.TrimSpace(line), "/")
		if name == "" || name == "bin/busybox" {
			continue
		}
		if path.Clean(name) != name || strings.HasPrefix(name, "../") {
			return fmt.Errorf("listing busybox applets: unexpected path %q", line)
		}
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			if _, ok := files[d]; !ok {
				add(dirEntry(d+"/", 0o755))
			}
		}
		if _, ok := files[name]; !ok {
			add(symlinkEntry(name, "/bin/busybox"))
		}
	}

	entries := make([]tarEntry, 0, len(files))
	for _, e := range files {
		entries = append(entries, e)
	}
	if err := writeTar(w, entries); err != nil {
		return fmt.Errorf("writing rootfs tar: %w", err)
	}
	return nil
}

// checkStatic refuses a dynamically linked busybox: it would not run in an image
// without its libraries.
func checkStatic(busybox string) error {
	f, err := elf.Open(busybox)
	if err != nil {
		return fmt.Errorf("reading busybox %s: %w", busybox, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("busybox %s is dynamically linked: install busybox-static (make deps)", busybox)
		}
	}
	return nil
}

type tarEntry struct {
	hdr  *tar.Header
	body []byte
}

func header(name string, typ byte, mode int64) *tar.Header {
	return &tar.Header{
		Typeflag: typ,
		Name:     name,
		Mode:     mode,
		ModTime:  entryTime,
	}
}

func dirEntry(name string, mode int64) tarEntry {
	return tarEntry{hdr: header(name, tar.TypeDir, mode)}
}

func fileEntry(name string, mode int64, body []byte) tarEntry {
	h := header(name, tar.TypeReg, mode)
	h.Size = int64(len(body))
	return tarEntry{hdr: h, body: body}
}

func symlinkEntry(name, target string) tarEntry {
	h := header(name, tar.TypeSymlink, 0o777)
	h.Linkname = target
	return tarEntry{hdr: h}
}

// writeTar writes entries sorted by path component, so that every directory
// comes before what it contains and the order never depends on map iteration.
func writeTar(w io.Writer, entries []tarEntry) error {
	key := func(e tarEntry) []string { return strings.Split(strings.TrimSuffix(e.hdr.Name, "/"), "/") }
	slices.SortFunc(entries, func(a, b tarEntry) int { return slices.Compare(key(a), key(b)) })
	tw := tar.NewWriter(w)
	for _, e := range entries {
		if err := tw.WriteHeader(e.hdr); err != nil {
			return fmt.Errorf("%s: %w", e.hdr.Name, err)
		}
		if _, err := tw.Write(e.body); err != nil {
			return fmt.Errorf("%s: %w", e.hdr.Name, err)
		}
	}
	return tw.Close()
}
