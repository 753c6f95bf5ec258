package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxBody bounds what is read of one Engine API answer.
const maxBody = 4 << 20

// apiClient is the little of the Docker Engine API confine needs: HTTP/1.1
// over a unix socket, unversioned paths (served at the daemon's own API
// version, so no version negotiation and no minimum to fall under).
type apiClient struct {
	socket string
	http   *http.Client
}

func newAPIClient(socket string, timeout time.Duration) *apiClient {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConns:          2,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: timeout,
		DisableCompression:    true,
	}
	return &apiClient{socket: socket, http: &http.Client{Transport: tr, Timeout: timeout}}
}

// listEntry is one element of GET /containers/json.
type listEntry struct {
	ID     string            `json:"Id"`
	Names  []string          `json:"Names"`
	Image  string            `json:"Image"`
	Labels map[string]string `json:"Labels"`
}

// container returns Docker's view of container id from the container list
// (see the package comment for why not inspect). ErrNotFound when Docker
// answers without it.
func (c *apiClient) container(ctx context.Context, id string) (*Info, error) {
	filters, err := json.Marshal(map[string][]string{"id": {id}})
	if err != nil {
		return nil, err
	}
	q := url.Values{"all": {"1"}, "filters": {string(filters)}}
	const path = "/containers/json"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker"+path+"?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// The URL is a placeholder; the caller names the socket.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("GET %s: reading answer: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, apiMessage(body))
	}
	var list []listEntry
	if err := decodeJSON(body, &list); err != nil {
		return nil, fmt.Errorf("GET %s: decoding answer: %w", path, err)
	}
	// The id filter matches prefixes: take the exact ID only.
	for _, e := range list {
		if e.ID == id {
			return &Info{ID: e.ID, Name: containerName(e.Names), Image: e.Image, Labels: e.Labels}, nil
		}
	}
	return nil, ErrNotFound
}

// apiMessage extracts {"message": "..."} from an error answer.
func apiMessage(body []byte) string {
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &m) == nil && m.Message != "" {
		return m.Message
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// containerName picks the container's own name from the list's Names, which
// also carries link aliases ("/other/alias").
func containerName(names []string) string {
	for _, n := range names {
		n = strings.TrimPrefix(n, "/")
		if n != "" && !strings.Contains(n, "/") {
			return n
		}
	}
	if len(names) > 0 {
		return strings.TrimPrefix(names[0], "/")
	}
	return ""
}
