package hookrun

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/confinehq/confine/internal/api/wire"
)

// MaxStateBytes bounds the OCI state a hook reads from stdin. runc's state
// is a few hundred bytes plus the annotations.
const MaxStateBytes = 64 << 10

// ErrBadState marks hook input that is not a valid OCI state.
var ErrBadState = errors.New("invalid hook state")

// ReadState reads the OCI state JSON that runc writes to a hook's stdin:
// at most max bytes (MaxStateBytes when max <= 0), exactly one JSON
// object, no unknown fields. Errors name the field. It does not validate
// the values; use State.Validate with the hook's stage for that.
func ReadState(r io.Reader, max int) (wire.State, error) {
	if max <= 0 {
		max = MaxStateBytes
	}
	var st wire.State
	data, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
	if err != nil {
		return st, fmt.Errorf("%w: reading stdin: %v", ErrBadState, err)
	}
	if len(data) > max {
		return st, fmt.Errorf("%w: more than %d bytes on stdin", ErrBadState, max)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return st, fmt.Errorf("%w: empty stdin (runc passes the container state as JSON)", ErrBadState)
	}
	if err := wire.DecodeStrict(bytes.NewReader(data), &st); err != nil {
		return wire.State{}, fmt.Errorf("%w: %s", ErrBadState, describeStateError(err))
	}
	return st, nil
}

// describeStateError rewrites encoding/json's messages so they name the
// field in OCI terms.
func describeStateError(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		if te.Field == "" {
			return fmt.Sprintf("want a JSON object, got %s", te.Value)
		}
		return fmt.Sprintf("field %s: cannot use JSON %s as %s", te.Field, te.Value, te.Type)
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "field " + strings.Trim(f, `"`) + ": unknown field"
	}
	return strings.TrimPrefix(msg, "json: ")
}
