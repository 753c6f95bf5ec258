package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/confinehq/confine/internal/api/wire"
)

// ErrUnreachable wraps every failure to reach confined (no socket, refused,
// timed out before an answer), so callers can apply fail_mode.
var ErrUnreachable = wire.ErrUnreachable

// Client talks to confined over its unix socket.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client for the socket at path; timeout bounds every
// request (0 means 5s).
func NewClient(path string, timeout time.Duration) *Client {
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableKeepAlives: true,
	}
	return &Client{socket: path, http: &http.Client{Transport: tr, Timeout: timeout}}
}

// Socket returns the socket path the client dials.
func (c *Client) Socket() string { return c.socket }

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encoding %s request: %w", path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://confined"+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w at %s: %v", ErrUnreachable, c.socket, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%w at %s: reading answer: %v", ErrUnreachable, c.socket, err)
	}
	if resp.StatusCode/100 != 2 {
		var e Error
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("confined: %s", e.Error)
		}
		return fmt.Errorf("confined: %s: %s", resp.Status, bytes.TrimSpace(data))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decoding %s answer: %w", path, err)
	}
	return nil
}

// Decide asks which profile a new container gets.
func (c *Client) Decide(ctx context.Context, req DecideRequest) (*Decision, error) {
	var d Decision
	if err := c.do(ctx, http.MethodPost, PathDecide, req, &d); err != nil {
		return nil, err
	}
	if d.Profile == nil {
		return nil, fmt.Errorf("confined: decision for %s/%s carries no profile", req.Namespace, req.ID)
	}
	return &d, nil
}

// Hook reports a hook stage.
func (c *Client) Hook(ctx context.Context, req HookRequest) error {
	return c.do(ctx, http.MethodPost, PathHook, req, nil)
}

// Status returns the daemon's health.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var s Status
	if err := c.do(ctx, http.MethodGet, PathStatus, nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Containers lists the watched containers.
func (c *Client) Containers(ctx context.Context) ([]Container, error) {
	var cs []Container
	if err := c.do(ctx, http.MethodGet, PathContainers, nil, &cs); err != nil {
		return nil, err
	}
	return cs, nil
}

// Reload asks the daemon to reload its profiles; it returns the load errors.
func (c *Client) Reload(ctx context.Context) ([]string, error) {
	var errs []string
	if err := c.do(ctx, http.MethodPost, PathReload, nil, &errs); err != nil {
		return nil, err
	}
	return errs, nil
}
