// Package metrics holds regkit's Prometheus metrics: HTTP requests by
// route ID (the IDs of spec/oci's and spec/generic's route tables),
// method and status, with latency histograms and bytes in and out;
// upload sessions; garbage collection runs and bytes freed; metadata and
// storage operation latency and errors; upload copy-buffer memory.
//
// A Metrics value is created once per process with New and shared by the
// server (Metrics.ObserveRequest), the metadata store (Metrics.Store
// wraps it), the blob store (Metrics.ObserveStorage, passed to
// storage.WithObserver) and the garbage collector (Metrics.ObserveGC).
// Handler serves them in the Prometheus text format.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every regkit metric.
const Namespace = "regkit"

// Metrics is the set of regkit's collectors, registered on its own
// registry (with the Go runtime and process collectors).
type Metrics struct {
	reg *prometheus.Registry

	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	bytesIn    *prometheus.CounterVec
	bytesOut   *prometheus.CounterVec
	inFlight   prometheus.Gauge
	uploadsNow *prometheus.GaugeVec

	gcRuns     *prometheus.CounterVec
	gcFreed    prometheus.Counter
	gcDeleted  prometheus.Counter
	gcDuration prometheus.Histogram
	gcLast     prometheus.Gauge

	metaOps     *prometheus.HistogramVec
	metaErrors  *prometheus.CounterVec
	storeOps    *prometheus.HistogramVec
	storeErrors *prometheus.CounterVec

	bufInUse  prometheus.Gauge
	bufBudget prometheus.Gauge
	bufWaits  *prometheus.CounterVec

	redisOnce   sync.Once
	redisOps    *prometheus.HistogramVec
	redisErrors *prometheus.CounterVec
}

// opBuckets are the latency buckets of metadata and storage operations
// (100 µs to 10 s).
var opBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New returns a Metrics with every collector registered.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{reg: reg}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "http_requests_total",
		Help: "HTTP requests served, by route ID (spec tables), method and status code."}, []string{"route", "method", "status"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "http_request_duration_seconds",
		Help: "Time from a request's arrival to the end of its response, by route ID and method.", Buckets: opBuckets},
		[]string{"route", "method"})
	m.bytesIn = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "http_request_bytes_total",
		Help: "Request body bytes read, by route ID."}, []string{"route"})
	m.bytesOut = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "http_response_bytes_total",
		Help: "Response body bytes written, by route ID."}, []string{"route"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "http_requests_in_flight",
		Help: "Requests being served by this process."})
	m.uploadsNow = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "upload_requests_in_flight",
		Help: "Upload requests (PATCH, PUT and POST with a body) streaming into this process, by route ID."}, []string{"route"})
	m.gcRuns = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "gc_runs_total",
		Help: "Garbage collection runs by result: ok, failed, skipped (another replica held the lease)."}, []string{"result"})
	m.gcFreed = prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "gc_freed_bytes_total",
		Help: "Bytes of blobs deleted by garbage collection."})
	m.gcDeleted = prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "gc_deleted_blobs_total",
		Help: "Blobs deleted by garbage collection."})
	m.gcDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "gc_duration_seconds",
		Help: "Duration of garbage collection runs that held the lease.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 10)})
	m.gcLast = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "gc_last_success_timestamp_seconds",
		Help: "Unix time of this process's last successful garbage collection run."})
	m.metaOps = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "metadata_operation_duration_seconds",
		Help: "Latency of metadata store operations, by operation.", Buckets: opBuckets}, []string{"op"})
	m.metaErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "metadata_operation_errors_total",
		Help: "Metadata store operations that failed (not-found answers excluded), by operation."}, []string{"op"})
	m.storeOps = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "storage_operation_duration_seconds",
		Help: "Latency of blob storage operations, by operation.", Buckets: opBuckets}, []string{"op"})
	m.storeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "storage_operation_errors_total",
		Help: "Blob storage operations that failed, by operation."}, []string{"op"})
	m.bufInUse = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "upload_buffer_bytes_in_use",
		Help: "Bytes of upload copy buffers held by in-flight uploads."})
	m.bufBudget = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "upload_buffer_budget_bytes",
		Help: "Most bytes of upload copy buffers in-flight uploads may hold (--upload-buffer-memory; 0: unbounded)."})
	m.bufWaits = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "upload_buffer_waits_total",
		Help: "Uploads that had to wait for copy-buffer memory, by outcome: got, gave_up (answered 503)."}, []string{"outcome"})
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.bytesIn, m.bytesOut, m.inFlight, m.uploadsNow,
		m.gcRuns, m.gcFreed, m.gcDeleted, m.gcDuration, m.gcLast, m.metaOps, m.metaErrors, m.storeOps, m.storeErrors,
		m.bufInUse, m.bufBudget, m.bufWaits} {
		f(c)
	}
	for _, r := range []string{"ok", "failed", "skipped"} {
		m.gcRuns.WithLabelValues(r)
	}
	return m
}

// Registry returns the registry, for registering more collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// RequestStarted counts a request in flight; call the returned function
// when it ends.
func (m *Metrics) RequestStarted() func() {
	m.inFlight.Inc()
	return m.inFlight.Dec
}

// UploadStarted counts an upload request of route streaming in; call the
// returned function when it ends.
func (m *Metrics) UploadStarted(route string) func() {
	g := m.uploadsNow.WithLabelValues(route)
	g.Inc()
	return g.Dec
}

// ObserveRequest records one finished request.
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration, in, out int64) {
	method = normMethod(method)
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(d.Seconds())
	if in > 0 {
		m.bytesIn.WithLabelValues(route).Add(float64(in))
	}
	if out > 0 {
		m.bytesOut.WithLabelValues(route).Add(float64(out))
	}
}

// normMethod keeps the label's values few: any method outside the
// standard ones is "other".
func normMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// ObserveStorage records one blob storage operation (the signature of
// storage.WithObserver).
func (m *Metrics) ObserveStorage(op string, d time.Duration, err error) {
	m.storeOps.WithLabelValues(op).Observe(d.Seconds())
	if err != nil {
		m.storeErrors.WithLabelValues(op).Inc()
	}
}

// ObserveGC records one garbage collection run: its result, duration,
// and the blobs and bytes it deleted.
func (m *Metrics) ObserveGC(result string, d time.Duration, deletedBlobs int, freedBytes int64) {
	m.gcRuns.WithLabelValues(result).Inc()
	if result == "skipped" {
		return
	}
	m.gcDuration.Observe(d.Seconds())
	m.gcDeleted.Add(float64(deletedBlobs))
	m.gcFreed.Add(float64(freedBytes))
	if result == "ok" {
		m.gcLast.SetToCurrentTime()
	}
}

// BufferGauges returns the gauges of upload copy-buffer memory (bytes in
// use, budget) and a function counting a wait by outcome, for
// storage.WithBufferBudget's observer.
func (m *Metrics) BufferGauges() (inUse, budget prometheus.Gauge, wait func(outcome string)) {
	return m.bufInUse, m.bufBudget, func(o string) { m.bufWaits.WithLabelValues(o).Inc() }
}
