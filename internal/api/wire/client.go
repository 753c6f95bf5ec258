package wire

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// Client is a small client of confined's API for the start path: one
// HTTP/1.0 request per connection over the unix socket, written and read
// by hand (net/http would double these programs' start-up time).
type Client struct {
	Socket  string
	Timeout time.Duration // bounds each call; 0 means 5s
}

// Post sends in as JSON to path and decodes a 2xx answer into out (when
// out is not nil). Failures to reach confined or to read its answer wrap
// ErrUnreachable; a non-2xx answer is an error carrying confined's words.
func (c Client) Post(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encoding %s request: %w", path, err)
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.Socket)
	if err != nil {
		return fmt.Errorf("%w at %s: %v", ErrUnreachable, c.Socket, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	req := "POST " + path + " HTTP/1.0\r\nHost: confined\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	if _, err := conn.Write(append([]byte(req), body...)); err != nil {
		return fmt.Errorf("%w at %s: sending %s: %v", ErrUnreachable, c.Socket, path, err)
	}
	status, data, err := readResponse(conn)
	if err != nil {
		return fmt.Errorf("%w at %s: reading answer to %s: %v", ErrUnreachable, c.Socket, path, err)
	}
	if status/100 != 2 {
		var e Error
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("confined: %s", e.Error)
		}
		return fmt.Errorf("confined: status %d: %s", status, bytes.TrimSpace(data))
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decoding confined's answer to %s: %w", path, err)
		}
	}
	return nil
}

// Hook reports a hook stage (hooks.HookClient).
func (c Client) Hook(ctx context.Context, req HookRequest) error {
	return c.Post(ctx, PathHook, req, nil)
}

// readResponse reads an HTTP/1.0 answer: status, headers, then the body up
// to Content-Length or the end of the connection.
func readResponse(r io.Reader) (int, []byte, error) {
	tp := textproto.NewReader(bufio.NewReader(r))
	line, err := tp.ReadLine()
	if err != nil {
		return 0, nil, err
	}
	proto, rest, ok := strings.Cut(line, " ")
	if !ok || !strings.HasPrefix(proto, "HTTP/") {
		return 0, nil, fmt.Errorf("malformed status line %q", line)
	}
	code, err := strconv.Atoi(strings.SplitN(rest, " ", 2)[0])
	if err != nil {
		return 0, nil, fmt.Errorf("malformed status line %q", line)
	}
	hdr, err := tp.ReadMIMEHeader()
	if err != nil {
		return 0, nil, err
	}
	limit := int64(64 << 20)
	if cl := hdr.Get("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil || n < 0 || n > limit {
			return 0, nil, fmt.Errorf("bad Content-Length %q", cl)
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(tp.R, data); err != nil {
			return 0, nil, err
		}
		return code, data, nil
	}
	data, err := io.ReadAll(io.LimitReader(tp.R, limit))
	return code, data, err
}

// Prepare asks confined to prepare a create.
func (c Client) Prepare(ctx context.Context, req PrepareRequest) (*PrepareAnswer, error) {
	var a PrepareAnswer
	if err := c.Post(ctx, PathPrepare, req, &a); err != nil {
		return nil, err
	}
	return &a, nil
}
