package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Backend is what the daemon provides to the API.
type Backend interface {
	Decide(ctx context.Context, req DecideRequest) (*Decision, error)
	Hook(ctx context.Context, req HookRequest) error
	Status(ctx context.Context) (*Status, error)
	Containers(ctx context.Context) ([]Container, error)
	Reload(ctx context.Context) ([]string, error)
}

// Server serves Backend on a unix socket.
type Server struct {
	backend Backend
	log     *slog.Logger
	// AllowUID is the only peer uid let in (0 unless a test says otherwise).
	AllowUID uint32
	srv      *http.Server
	ln       net.Listener
}

type credKey struct{}

// NewServer returns a server for backend.
func NewServer(backend Backend, log *slog.Logger) *Server {
	s := &Server{backend: backend, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathDecide, s.handleDecide)
	mux.HandleFunc("POST "+PathHook, s.handleHook)
	mux.HandleFunc("GET "+PathStatus, s.handleStatus)
	mux.HandleFunc("GET "+PathContainers, s.handleContainers)
	mux.HandleFunc("POST "+PathReload, s.handleReload)
	if p, ok := backend.(Preparer); ok {
		mux.HandleFunc("POST "+PathPrepare, s.handlePrepare(p))
	}
	s.srv = &http.Server{
		Handler:           s.guard(mux),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, credKey{}, peerCred(c))
		},
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return s
}

// Listen creates the socket at path (mode 0600, parent 0700 when created)
// replacing a stale one.
func (s *Server) Listen(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating API socket directory: %w", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing stale API socket %s: %w", path, err)
	}
	old := unix.Umask(0o177)
	ln, err := net.Listen("unix", path)
	unix.Umask(old)
	if err != nil {
		return fmt.Errorf("listening on API socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("restricting API socket %s: %w", path, err)
	}
	s.ln = ln
	return nil
}

// Serve answers requests until Shutdown.
func (s *Server) Serve() error {
	err := s.srv.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops the server and removes nothing else.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

type cred struct {
	ok       bool
	uid, pid uint32
}

func peerCred(c net.Conn) cred {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return cred{}
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return cred{}
	}
	var ucred *unix.Ucred
	var gerr error
	if err := raw.Control(func(fd uintptr) {
		ucred, gerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || gerr != nil {
		return cred{}
	}
	return cred{ok: true, uid: ucred.Uid, pid: uint32(ucred.Pid)}
}

func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := r.Context().Value(credKey{}).(cred)
		if !c.ok || c.uid != s.AllowUID {
			s.log.Warn("API request refused", "reason", "peer uid not allowed", "uid", c.uid, "pid", c.pid, "path", r.URL.Path)
			writeErr(w, http.StatusForbidden, fmt.Errorf("peer uid %d is not allowed (root only)", c.uid))
			return
		}
		// An announced oversize body is refused before a byte of it is
		// read; an unannounced one stops at the limit.
		if r.ContentLength > MaxBodyBytes {
			writeErr(w, http.StatusBadRequest, fmt.Errorf("request body of %d bytes is larger than %d", r.ContentLength, MaxBodyBytes))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

func writeErr(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, Error{Error: err.Error()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeStrict decodes one JSON value, refusing unknown fields and trailing data.
func decodeStrict(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("content type %q: want application/json", ct)
	}
	return DecodeStrict(r.Body, v)
}

func (s *Server) handleDecide(w http.ResponseWriter, r *http.Request) {
	var req DecideRequest
	if err := decodeStrict(r, &req); err != nil {
		writeErr(w, http.StatusBadRequest, fmt.Errorf("decide request: %w", err))
		return
	}
	if err := req.Validate(); err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	d, err := s.backend.Decide(r.Context(), req)
	if err != nil {
		writeErr(w, http.StatusUnprocessableEntity, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) handleHook(w http.ResponseWriter, r *http.Request) {
	var req HookRequest
	if err := decodeStrict(r, &req); err != nil {
		writeErr(w, http.StatusBadRequest, fmt.Errorf("hook request: %w", err))
		return
	}
	if err := req.Validate(); err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	if err := s.backend.Hook(r.Context(), req); err != nil {
		writeErr(w, http.StatusUnprocessableEntity, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.backend.Status(r.Context())
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) handleContainers(w http.ResponseWriter, r *http.Request) {
	cs, err := s.backend.Containers(r.Context())
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err)
		return
	}
	if cs == nil {
		cs = []Container{}
	}
	writeJSON(w, http.StatusOK, cs)
}

func (s *Server) handleReload(w http.ResponseWriter, r *http.Request) {
	errs, err := s.backend.Reload(r.Context())
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err)
		return
	}
	if errs == nil {
		errs = []string{}
	}
	writeJSON(w, http.StatusOK, errs)
}
