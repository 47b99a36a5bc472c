package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// Every error answer of the API is one type, a *reward.Error
// ({"error":{"code","message","retryable"?}}), and its status comes from its
// code: reward.ErrorCode.HTTPStatus is the one table (405 is the one exception,
// in routes.go; SandboxFusion's /run_code maps statuses its own way).
//
// What a client sees of a failure: an error raised with a code (a *reward.Error,
// made where the failure was understood) is answered as it is, message included,
// internal ones too: its message was written for the client and says what was
// being attempted. An error that never got a code, a failure nobody foresaw (a
// library's error, a panic), is answered {"code":"internal","message":"internal
// error"} and logged in full under the request id the answer carries in
// X-Request-Id: its text may name hosts, files or values that are not the
// client's business.

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
	return reward.Errorf(reward.Invalid, "%s", strings.Join(parts, "; "))
}

// httpStatus is the status of an error answer: its code's, except that a failure
// of the mesh (retryable) always reads as one, 429 or 5xx, never a 4xx that a
// client takes for its own fault and does not retry.
func httpStatus(e *reward.Error) int {
	status := e.Code.HTTPStatus()
	if e.Retryable && status < http.StatusInternalServerError && status != http.StatusTooManyRequests {
		return http.StatusServiceUnavailable
	}
	return status
}

// clientError is what a client sees of err, and the cause the log must add
// because the client does not see it (nil when it sees everything).
func clientError(err error) (e *reward.Error, hidden error) {
	if errors.As(err, &e) {
		return e, nil
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return reward.Errorf(reward.Timeout, "request did not finish in time"), nil
	}
	return reward.Errorf(reward.Internal, "internal error"), err
}

// fail answers a request that failed as a whole.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	e, hidden := clientError(err)
	s.answerError(w, r, httpStatus(e), e, hidden)
}

// answerError writes e with status. A 5xx is logged, with the cause the client
// was not shown.
func (s *server) answerError(w http.ResponseWriter, r *http.Request, status int, e *reward.Error, hidden error) {
	s.logFailure(r, status, e, hidden)
	if e.MeshFailed() && (status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests) {
		// The mesh failed, not the request: the same request may succeed in a
		// moment (a store electing a leader, a replica coming back).
		w.Header().Set("Retry-After", "1")
	}
	encode(w, status, map[string]any{"error": e})
}

func (s *server) logFailure(r *http.Request, status int, e *reward.Error, hidden error) {
	if status < http.StatusInternalServerError && hidden == nil {
		return
	}
	level := slog.LevelWarn
	args := []any{"path", r.URL.Path, "request_id", middleware.GetReqID(r.Context()), "code", e.Code, "err", e.Message}
	if hidden != nil {
		level = slog.LevelError
		args = append(args, "cause", hidden.Error())
	}
	s.log.Log(r.Context(), level, "request failed", args...)
}

func encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads a JSON body into v. A body over the limit is 413; anything that is
// not one JSON value of the right shape is 400 with what was wrong.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return reward.Errorf(reward.TooLarge, "request body is over %d bytes", tooLarge.Limit)
		}
		return reward.Errorf(reward.Invalid, "malformed JSON body: %v", err)
	}
	if dec.More() {
		return reward.Errorf(reward.Invalid, "malformed JSON body: more than one JSON value")
	}
	return nil
}

// limits bounds every API request: body size and total time.
func (s *server) limits(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.cfg.MaxBodyBytes {
			s.fail(w, r, reward.Errorf(reward.TooLarge, "request body is over %d bytes", s.cfg.MaxBodyBytes))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (s *server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil && v != http.ErrAbortHandler {
				s.fail(w, r, fmt.Errorf("handler panicked: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *server) requestLog(next http.Handler) http.Handler {
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
