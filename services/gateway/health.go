package gateway

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// handleHealth asks every service over NATS; 200 when all answer, 503 otherwise.
func (s *server) handleHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		services := make(map[string]string, len(s.cfg.Services))
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, name := range s.cfg.Services {
			wg.Go(func() {
				state := "down"
				if s.mesh.Ping(ctx, name) {
					state = "up"
				}
				mu.Lock()
				services[name] = state
				mu.Unlock()
			})
		}
		wg.Wait()
		status, code := "ok", http.StatusOK
		for _, state := range services {
			if state != "up" {
				status, code = "degraded", http.StatusServiceUnavailable
			}
		}
		if !s.mesh.Conn().IsConnected() {
			status, code = "nats_disconnected", http.StatusServiceUnavailable
		}
		encode(w, code, map[string]any{"status": status, "services": services})
	})
}
