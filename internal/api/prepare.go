package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/confinehq/confine/internal/api/wire"
)

// PrepareRequest, PrepareAnswer: see package wire.
type (
	PrepareRequest = wire.PrepareRequest
	PrepareAnswer  = wire.PrepareAnswer
)

// Preparer is a Backend that also prepares creates for confine-runc
// (POST /v1/prepare). Without it, the path answers 404 and confine-runc
// does the work itself.
type Preparer interface {
	Prepare(ctx context.Context, req PrepareRequest) (*PrepareAnswer, error)
}

func (s *Server) handlePrepare(p Preparer) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req PrepareRequest
		if err := decodeStrict(r, &req); err != nil {
			writeErr(w, http.StatusBadRequest, fmt.Errorf("prepare request: %w", err))
			return
		}
		if err := req.Validate(); err != nil {
			writeErr(w, http.StatusBadRequest, err)
			return
		}
		a, err := p.Prepare(r.Context(), req)
		if err != nil {
			writeErr(w, http.StatusUnprocessableEntity, err)
			return
		}
		writeJSON(w, http.StatusOK, a)
	}
}
