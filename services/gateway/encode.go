package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// httpError is a whole-request failure: a status and the API's error shape.
type httpError struct {
	status int
	body   reward.Error
}

func (e *httpError) Error() string { return e.body.Message }

func errorf(status int, code reward.ErrorCode, format string, args ...any) *httpError {
	return &httpError{status: status, body: reward.Error{Code: code, Message: fmt.Sprintf(format, args...)}}
}

// problems is a field → problem map from validation; it answers 400.
type problems map[string]string

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	fields := make([]string, 0, len(p))
	for f := range p {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	parts := make([]string, 0, len(fields))
	for _, f := range fields {
		parts = append(parts, f+": "+p[f])
	}
	return errorf(http.StatusBadRequest, reward.Invalid, "%s", strings.Join(parts, "; "))
}

// asHTTPError maps any error to the status and shape a client sees.
func asHTTPError(err error) *httpError {
	var he *httpError
	if errors.As(err, &he) {
		return he
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return errorf(http.StatusGatewayTimeout, reward.Timeout, "request did not finish in time")
	}
	e := reward.AsError(err)
	return &httpError{status: e.Code.HTTPStatus(), body: *e}
}

func encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	he := asHTTPError(err)
	if he.status >= 500 {
		s.log.Warn("request failed", "path", r.URL.Path, "request_id", middleware.GetReqID(r.Context()), "code", he.body.Code, "err", he.body.Message)
	}
	encode(w, he.status, map[string]any{"error": he.body})
}

// decode reads a JSON body into v. A body over the limit is 413; anything that is
// not one JSON value of the right shape is 400 with what was wrong.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return errorf(http.StatusRequestEntityTooLarge, reward.TooLarge, "request body is over %d bytes", tooLarge.Limit)
		}
		return errorf(http.StatusBadRequest, reward.Invalid, "malformed JSON body: %v", err)
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, reward.Invalid, "malformed JSON body: more than one JSON value")
	}
	return nil
}

// limits bounds every API request: body size and total time.
func (s *Server) limits(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.cfg.MaxBodyBytes {
			s.fail(w, r, errorf(http.StatusRequestEntityTooLarge, reward.TooLarge, "request body is over %d bytes", s.cfg.MaxBodyBytes))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil && v != http.ErrAbortHandler {
				s.log.Error("handler panicked", "path", r.URL.Path, "panic", v)
				s.fail(w, r, errorf(http.StatusInternalServerError, reward.Internal, "internal error"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) requestLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		if id := middleware.GetReqID(r.Context()); id != "" {
			ww.Header().Set("X-Request-Id", id)
		}
		next.ServeHTTP(ww, r)
		elapsed := time.Since(start)
		route := routeLabel(r)
		s.metrics.requests.WithLabelValues(route, fmt.Sprint(ww.Status())).Inc()
		s.metrics.latency.WithLabelValues(route).Observe(elapsed.Seconds())
		s.log.Debug("http", "method", r.Method, "path", r.URL.Path, "status", ww.Status(),
			"bytes", ww.BytesWritten(), "ms", elapsed.Milliseconds(), "request_id", middleware.GetReqID(r.Context()))
	})
}
