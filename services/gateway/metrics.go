package gateway

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

type metrics struct {
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	items       *prometheus.CounterVec
	calls       *prometheus.HistogramVec
	busy        *prometheus.CounterVec
	cacheErrors *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rewardmesh_http_requests_total", Help: "HTTP requests by route and status.",
		}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rewardmesh_http_request_seconds", Help: "HTTP request latency by route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 20),
		}, []string{"route"}),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rewardmesh_items_total", Help: "Batch items by service and outcome (cached, scored, error).",
		}, []string{"service", "outcome"}),
		calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rewardmesh_service_call_seconds", Help: "NATS calls to services by service and operation.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 22),
		}, []string{"service", "op"}),
		busy: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rewardmesh_busy_total", Help: "Calls a service answered busy.",
		}, []string{"service"}),
		cacheErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rewardmesh_cache_errors_total", Help: "Reward cache failures (the request went on uncached).",
		}, []string{"op"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.latency, m.items, m.calls, m.busy, m.cacheErrors,
			collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// routeLabel is the matched route pattern, so metrics do not grow a label per job id.
func routeLabel(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil {
		if p := rc.RoutePattern(); p != "" {
			return p
		}
	}
	return "unmatched"
}
