package daemon

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are confined's Prometheus series, registered on a registry of
// the daemon's own (no globals).
type metrics struct {
	reg           *prometheus.Registry
	containers    *prometheus.GaugeVec
	processes     prometheus.Gauge
	events        prometheus.Counter
	eventsLost    prometheus.Counter
	eventsLostBy  *prometheus.CounterVec
	pidReused     prometheus.Counter
	rescans       prometheus.Counter
	violations    *prometheus.CounterVec
	kills         *prometheus.CounterVec
	detection     prometheus.Histogram
	sinkErrors    *prometheus.CounterVec
	profileErrors prometheus.Gauge
	learnSyscalls prometheus.Counter
	alertsSent    prometheus.Counter
	eventSource   *prometheus.GaugeVec
	execUnjudged  prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg:           prometheus.NewRegistry(),
		containers:    prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "confine_containers", Help: "Watched containers by mode."}, []string{"mode"}),
		processes:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "confine_processes", Help: "Processes tracked in watched containers at the last rescan."}),
		events:        prometheus.NewCounter(prometheus.CounterOpts{Name: "confine_process_events_total", Help: "Process events received from the kernel."}),
		eventsLost:    prometheus.NewCounter(prometheus.CounterOpts{Name: "confine_process_events_lost_total", Help: "Receive-queue overflows of the process event socket (each followed by a rescan)."}),
		eventsLostBy:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "confine_events_lost_total", Help: "Events or findings lost to a full queue, by source (each followed by a rescan)."}, []string{"source"}),
		pidReused:     prometheus.NewCounter(prometheus.CounterOpts{Name: "confine_process_events_pid_reused_total", Help: "Exec events whose PID belonged to another process by the time they were read (not judged, not attributed)."}),
		rescans:       prometheus.NewCounter(prometheus.CounterOpts{Name: "confine_rescans_total", Help: "Full /proc rescans."}),
		violations:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "confine_violations_total", Help: "Violations by rule and mode."}, []string{"rule", "mode"}),
		kills:         prometheus.NewCounterVec(prometheus.CounterOpts{Name: "confine_kills_total", Help: "Containers killed, by rule."}, []string{"rule"}),
		detection:     prometheus.NewHistogram(prometheus.HistogramOpts{Name: "confine_detection_seconds", Help: "Time from the process start to the violation being acted on.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		sinkErrors:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "confine_alert_sink_errors_total", Help: "Failed alert deliveries by sink."}, []string{"sink"}),
		profileErrors: prometheus.NewGauge(prometheus.GaugeOpts{Name: "confine_profile_errors", Help: "Profile files that failed to load at the last (re)load."}),
		learnSyscalls: prometheus.NewCounter(prometheus.CounterOpts{Name: "confine_learn_trapped_syscalls_total", Help: "Syscalls trapped by learn-mode filters."}),
		alertsSent:    prometheus.NewCounter(prometheus.CounterOpts{Name: "confine_alerts_total", Help: "Alerts emitted."}),
		execUnjudged:  prometheus.NewCounter(prometheus.CounterOpts{Name: "confine_exec_unjudged_total", Help: "Exec events (bpf) of processes gone before /proc was read whose executable could not be tied to a path (relative name, symlink)."}),
		eventSource:   prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "confine_process_event_source", Help: "1 for the process event source in use: bpf, proc_connector or none (rescans only)."}, []string{"source"}),
	}
	m.reg.MustRegister(m.containers, m.processes, m.events, m.eventsLost, m.eventsLostBy, m.pidReused, m.rescans, m.violations, m.kills,
		m.detection, m.sinkErrors, m.profileErrors, m.learnSyscalls, m.alertsSent, m.eventSource, m.execUnjudged,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// serve serves /metrics on addr until ctx is done.
func (m *metrics) serve(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err
		}
	}()
	return nil
}
