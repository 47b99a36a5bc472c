package scoring

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	items       *prometheus.CounterVec
	calls       *prometheus.HistogramVec
	busy        *prometheus.CounterVec
	cacheErrors *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
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
		reg.MustRegister(m.items, m.calls, m.busy, m.cacheErrors)
	}
	return m
}
