package testbed

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"golang.org/x/crypto/bcrypt"
)

// RegistryBinary is Debian's CNCF distribution (package docker-registry).
const RegistryBinary = "/usr/bin/docker-registry"

// Registry is a private OCI registry (CNCF distribution) on 127.0.0.1, with
// TLS (a self-signed certificate made for the test) and basic auth (a
// bcrypt htpasswd made in Go). Its storage survives Stop/Start.
type Registry struct {
	Host     string // 127.0.0.1:PORT
	CAFile   string // PEM certificate to trust
	AuthFile string // docker config.json with the credentials
	User     string
	Password string
	dir      string
	cmd      *exec.Cmd
	done     chan struct{}
	t        testing.TB
}

// StartRegistry starts a registry for the test; cleanup stops it by PID and
// removes its files.
func StartRegistry(t testing.TB) *Registry {
	t.Helper()
	RequireTools(t, RegistryBinary)
	dir, err := os.MkdirTemp("", "confine-registry-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	r := &Registry{dir: dir, User: "confine", Password: "pw-" + UniqueID("r"), t: t}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.Host = ln.Addr().String()
	ln.Close()
	if err := r.writeFiles(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	r.Start()
	return r
}

func (r *Registry) writeFiles() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "confine test registry"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	r.CAFile = filepath.Join(r.dir, "cert.pem")
	hash, err := bcrypt.GenerateFromPassword([]byte(r.Password), bcrypt.MinCost)
	if err != nil {
		return err
	}
	authJSON, _ := json.Marshal(map[string]any{"auths": map[string]any{
		r.Host: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(r.User + ":" + r.Password))},
	}})
	r.AuthFile = filepath.Join(r.dir, "docker-config.json")
	cfg := fmt.Sprintf(`version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: %s}
  delete: {enabled: true}
http:
  addr: %s
  tls: {certificate: %s, key: %s}
auth:
  htpasswd: {realm: confine-test, path: %s}
`, filepath.Join(r.dir, "data"), r.Host, r.CAFile, filepath.Join(r.dir, "key.pem"), filepath.Join(r.dir, "htpasswd"))
	for name, data := range map[string][]byte{
		"cert.pem":           pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"key.pem":            pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
		"htpasswd":           []byte(r.User + ":" + string(hash) + "\n"),
		"docker-config.json": authJSON,
		"config.yml":         []byte(cfg),
	} {
		if err := os.WriteFile(filepath.Join(r.dir, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// Start (re)starts the registry on its port and waits until it answers.
func (r *Registry) Start() {
	r.t.Helper()
	if r.cmd != nil {
		r.t.Fatal("registry already running")
	}
	log, err := os.OpenFile(filepath.Join(r.dir, "registry.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		r.t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(RegistryBinary, "serve", filepath.Join(r.dir, "config.yml"))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("starting %s: %v", RegistryBinary, err)
	}
	r.cmd, r.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(r.done) }()
	pem, _ := os.ReadFile(r.CAFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := hc.Get("https://" + r.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return
			}
		}
		select {
		case <-r.done:
			out, _ := os.ReadFile(filepath.Join(r.dir, "registry.log"))
			r.cmd = nil
			r.t.Fatalf("registry exited at start: %s", out)
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("registry on %s not answering: %v", r.Host, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the registry by its PID (storage is kept for Start).
func (r *Registry) Stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
	r.cmd = nil
}

// Ref is oci://HOST/repo:tag on this registry.
func (r *Registry) Ref(repoTag string) string { return "oci://" + r.Host + "/" + repoTag }

// PID is the registry's process id (0 when stopped).
func (r *Registry) PID() int {
	if r.cmd == nil {
		return 0
	}
	return r.cmd.Process.Pid
}

// BlobPath is where the registry stores a blob on disk (tests tamper with it).
func (r *Registry) BlobPath(dgst string) string {
	alg, hex, _ := strings.Cut(dgst, ":")
	return filepath.Join(r.dir, "data", "docker", "registry", "v2", "blobs", alg, hex[:2], hex, "data")
}

// SigningKeys writes a fresh ECDSA P-256 key pair in PEM, the form cosign
// writes and confinectl profile push --sign-key and signature_keys read, as
// dir/name.key and dir/name.pub, and returns the two paths.
func SigningKeys(t testing.TB, dir, name string) (privPath, pubPath string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := cryptoutils.MarshalPrivateKeyToPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := cryptoutils.MarshalPublicKeyToPEM(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	privPath, pubPath = filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pub")
	if err := os.WriteFile(privPath, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pubPath, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	return privPath, pubPath
}
