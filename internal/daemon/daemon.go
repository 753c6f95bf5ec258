// Package daemon is confined: it wires the containerd watcher, the process
// monitor, the rules, the killer, the alert sinks and the local API, and
// runs the main loop (events, rescans, reloads, watchdog).
package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/confinehq/confine/hooks"
	"github.com/confinehq/confine/internal/api"
	"github.com/confinehq/confine/internal/config"
	"github.com/confinehq/confine/internal/starttrace"
	"github.com/confinehq/confine/internal/watch"
	"github.com/confinehq/confine/monitor/egress"
	"github.com/confinehq/confine/profiles"
	"github.com/confinehq/confine/seccomp/notify"
)

// Daemon is one confined.
type Daemon struct {
	// prefetch: selection inputs looked up at /containers/create.
	prefetch prefetcher
	cfg      *config.Config
	log      *slog.Logger
	started  time.Time
	profiles *profileSource
	reg      *registry
	watcher  *watch.Watcher
	alerts   *alerter
	mon      *monitor
	enf      *enforcer // the one consumer of findings (enforcer.go)
	notify   *notifier
	metrics  *metrics
	learner  *learner
	docker   *dockerView
	fleet    *fleet // profile_sources (sources.go); nil without

	seccompListener *notify.Listener
	secretCh        chan secretRead // secrets.go
	deniedCh        chan egress.Denied

	learnAnnounced map[string]bool

	// domains maps the processes that create Landlock domains to their
	// containers (landlock.go).
	domains domainOwners
	// landlockUnreported says why Landlock denials cannot be reported
	// here (nil: they can).
	landlockUnreported atomic.Pointer[string]
	// resume replays Landlock denials missed while confined was down
	// (auditresume.go); nil without Landlock reporting.
	resume *auditResume

	// mu guards the mutable fields of container records and changes of
	// registry membership. It is held for memory operations only: never
	// across containerd, Docker, DNS, netlink or disk I/O.
	mu sync.Mutex
	// reloadMu serialises reloads (SIGHUP, the API, a changed directory).
	reloadMu sync.Mutex

	stats struct {
		violations atomic.Int64
		kills      atomic.Int64
		// secretsLost counts secret reads the kernel or a full channel dropped.
		secretsLost atomic.Uint64
	}

	rescanNow chan struct{}
	// lost is the overflow policy of every source (overflow.go);
	// lostSeen follows the loss counters sources keep themselves.
	lost     *overflow
	lostSeen lostCounter
	// auditDropped counts audit records the reader had no room for.
	auditDropped *atomic.Uint64
}

// requestRescan asks the main loop for a /proc rescan soon (requests
// coalesce).
func (d *Daemon) requestRescan() {
	select {
	case d.rescanNow <- struct{}{}:
	default:
	}
}

// New builds a daemon from its configuration.
func New(cfg *config.Config, log *slog.Logger) (*Daemon, error) {
	d := &Daemon{
		cfg:       cfg,
		log:       log,
		started:   time.Now(),
		profiles:  newProfileSource(cfg.ProfilesDir, log),
		reg:       newRegistry(),
		watcher:   watch.New(cfg.ContainerdAddress, cfg.Namespaces, log),
		notify:    newNotifier(),
		rescanNow: make(chan struct{}, 1),
		metrics:   newMetrics(),
		learner:   newLearner(cfg.LearnedDir()),
		docker:    newDockerView(cfg.DockerSocket, cfg.DockerDataRoot, cfg.DockerNamespace),
		secretCh:  make(chan secretRead, 1024),
		deniedCh:  make(chan egress.Denied, 4096),

		learnAnnounced: map[string]bool{},
	}
	var err error
	d.alerts, err = newAlerter(cfg, log, d.metrics)
	if err != nil {
		return nil, err
	}
	d.lost = newOverflow(log, d.metrics, d.alerts, d.requestRescan)
	d.mon, err = newMonitor(monitorDeps{cfg: cfg, log: log, metrics: d.metrics, reg: d.reg, recMu: &d.mu, lost: d.lost, learner: d})
	if err != nil {
		return nil, err
	}
	d.enf = newEnforcer(enforcerDeps{log: log, mu: &d.mu, alerts: d.alerts, metrics: d.metrics,
		violations: &d.stats.violations, kills: &d.stats.kills,
		killer: d.mon, tasks: d.watcher, sessions: d.mon, lost: d.lost})
	d.mon.findings = d.enf
	if d.fleet, err = newFleet(cfg, log, d.metrics, d.alerts); err != nil {
		return nil, err
	}
	if d.fleet != nil {
		d.profiles.cache = d.fleet.dir
	}
	return d, nil
}

// Run serves until ctx is done.
func (d *Daemon) Run(ctx context.Context) error {
	for _, dir := range []string{d.cfg.RunDir, d.cfg.StateDir} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", dir, err)
		}
	}
	errs, _ := d.profiles.Load()
	for _, e := range errs {
		d.alerts.profileError(e)
	}

	// The seccomp listener must accept before any decision names it.
	d.startNotify()
	defer func() {
		if d.seccompListener != nil {
			_ = d.seccompListener.Close()
		}
	}()
	d.enf.start()
	defer d.enf.stop()
	go d.deniedLoop()
	go d.secretLoop()

	srv := api.NewServer(backend{d}, d.log)
	if err := srv.Listen(d.cfg.APISocket()); err != nil {
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve() }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		os.Remove(d.cfg.APISocket())
	}()

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if d.fleet != nil {
		d.fleet.run(runCtx)
	}
	if d.cfg.MetricsAddress != "" {
		if err := d.metrics.serve(runCtx, d.cfg.MetricsAddress); err != nil {
			return fmt.Errorf("serving metrics on %s: %w", d.cfg.MetricsAddress, err)
		}
	}

	// The process monitor starts before containers are known so that no
	// exec is missed between the resync and the first event.
	if err := d.mon.start(runCtx); err != nil {
		return err
	}
	defer d.startAudit(runCtx)()
	d.alertEventsSource()
	defer d.mon.stop()

	events := make(chan watch.Event, 1024)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		d.watcher.Run(runCtx, func(ev watch.Event) {
			select {
			case events <- ev:
			case <-runCtx.Done():
			}
		})
	}()

	// READY once the containerd subscription is live (or after a bound,
	// so a host where containerd starts later still gets the API) and the
	// API socket listens.
	readyBy := time.NewTimer(10 * time.Second)
	defer readyBy.Stop()
	ready := false
	markReady := func() {
		if !ready {
			ready = true
			d.notify.ready()
			d.replayMissed(ctx)
			d.notify.status(fmt.Sprintf("watching %d containers", len(d.reg.all())))
			d.log.Info("confined ready", "api", d.cfg.APISocket(), "containerd", d.cfg.ContainerdAddress, "connected", d.watcher.Connected())
		}
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	rescan := time.NewTicker(d.cfg.RescanInterval.Duration)
	defer rescan.Stop()
	// Host names in network.egress are resolved again on this period
	// (Go's resolver hides TTLs; the rules keep the last two answers).
	dnsRefresh := time.NewTicker(30 * time.Second)
	defer dnsRefresh.Stop()
	var wd <-chan time.Time
	if iv := d.notify.interval(); iv > 0 {
		t := time.NewTicker(iv)
		defer t.Stop()
		wd = t.C
	}

	for {
		select {
		case <-ctx.Done():
			d.notify.stopping()
			d.log.Info("confined stopping; containers keep running")
			d.flushLearned()
			d.waitReplay()
			d.enf.stop() // acts on what was found so far; the alerter closes after it
			d.alerts.close()
			cancel()
			<-watchDone
			return nil
		case err := <-serveErr:
			return fmt.Errorf("API server: %w", err)
		case ev := <-events:
			d.handleEvent(runCtx, ev)
			if ev.Kind == watch.Resync {
				markReady()
			}
		case <-readyBy.C:
			markReady()
		case <-hup:
			d.log.Info("SIGHUP: reloading profiles and reopening alert sinks")
			d.reload("SIGHUP")
			d.alerts.reopen()
		case <-rescan.C:
			if d.profiles.Changed() {
				d.reload("profiles directory changed")
			}
			d.mon.rescan()
			d.collectLost()
			d.flushLearned()
			d.alerts.flushSpool()
			d.updateGauges()
		case <-dnsRefresh.C:
			d.refreshEgressDNS(runCtx)
		case <-d.rescanNow:
			d.mon.rescan()
		case <-wd:
			// Pinged from the main loop: a stuck loop stops the pings.
			d.notify.ping()
		}
	}
}

// reload re-reads the profiles and re-evaluates the running containers'
// profiles by name (a container keeps its mode override). Each container's
// new decision is swapped in whole; its egress rules (DNS, netlink) and
// fanotify guard follow outside d.mu. Reloads are serialised (SIGHUP, the
// API, a changed directory).
func (d *Daemon) reload(why string) []string {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	d.notify.reloading()
	defer d.notify.ready()
	errs, changed := d.profiles.Load()
	for _, e := range errs {
		d.alerts.profileError(e)
	}
	if changed {
		set := d.profiles.Current()
		for _, c := range d.reg.all() {
			cur := c.profile()
			if cur == nil {
				continue
			}
			p, ok := set.Get(cur.Name)
			if !ok {
				continue
			}
			np := p.Clone()
			np.Mode = cur.Mode
			dec := d.decide(np)
			c.dec.Store(dec)
			d.mu.Lock()
			eg, g := c.egress, c.guard
			d.mu.Unlock()
			refreshGuard(g, dec)
			if eg != nil {
				if err := eg.Update(np); err != nil {
					d.log.Error("updating egress rules", "namespace", c.Namespace, "container", c.ID, "error", err)
				}
			}
		}
	}
	d.log.Info("profiles reloaded", "why", why, "errors", len(errs), "changed", changed)
	return errs
}

// decide compiles a profile into the decision a record publishes.
func (d *Daemon) decide(p *profiles.Profile) *decision {
	dec, err := newDecision(p)
	if err != nil {
		// Profiles were validated at load; this is a bug, not input.
		d.log.Error("compiling rules", "profile", p.Name, "error", err)
		dec, _ = newDecision(&profiles.Profile{APIVersion: profiles.APIVersion, Name: p.Name, Mode: p.Mode})
		dec.Profile, dec.Digest = p, profiles.Digest(p)
	}
	return dec
}

// lookup asks containerd about a container.
func (d *Daemon) lookup(ctx context.Context, ns, id string) (*watch.Container, error) {
	lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return d.watcher.Lookup(lctx, ns, id)
}

// namespaceOf finds the containerd namespace of a hook's container: the
// bundle path ends in <namespace>/<id>.
func namespaceOf(st api.State) string {
	if ns := st.Annotations["io.containerd.namespace"]; ns != "" {
		return ns
	}
	if ns, ok := hooks.NamespaceOfBundle(st.Bundle, st.ID); ok {
		return ns
	}
	return hooks.DefaultNamespace
}

// registerFromHook records a container at createRuntime, before its user
// code runs, with the profile confine-runc injected (bundle annotations).
func (d *Daemon) registerFromHook(ctx context.Context, ns string, st api.State) error {
	tr := starttrace.New("confined hook")
	tr.SetContainer(st.ID)
	defer tr.Write(d.cfg.RunDir)
	id := identity{Annotations: st.Annotations}
	p, reason, err := d.profileFor(id, true)
	if err != nil {
		return fmt.Errorf("registering %s/%s: %w", ns, st.ID, err)
	}
	if reason != reasonAnnotation {
		d.log.Warn("profile named in the bundle is not loaded; using the default", "namespace", ns, "container", st.ID, "profile", st.Annotations[profiles.LabelProfile])
	}
	c := &container{
		Namespace: ns, ID: st.ID, Root: hooks.QualifyingRoot(ns, st.Annotations[hooks.AnnotationRuncRoot]),
		Pid: st.Pid, Annotations: st.Annotations,
		Injected: st.Annotations[profiles.AnnotationDigest] != "",
		Source:   sourceHook, Status: "created", Since: time.Now(),
	}
	dec := d.decide(p)
	c.dec.Store(dec)
	if dg := st.Annotations[profiles.AnnotationDigest]; dg != "" && dg != dec.Digest {
		c.Notes = append(c.Notes, "profile changed since the container was created")
	}
	if n := filesLayerNote(p, st.Annotations); n != "" {
		c.Notes = append(c.Notes, n)
	}
	c.PidStart = d.mon.startTime(st.Pid)
	// Get-or-create in one critical section: a record of this very
	// process (containerd's event or a resync got there first) is kept
	// with its egress rules and guard; a record of an earlier task of the
	// same container is replaced.
	d.mu.Lock()
	old := d.reg.getKey(c.key())
	if o := d.reg.getKey(containerKey(ns, st.ID, "")); old == nil && c.Root != "" && o != nil && o.Pid == st.Pid {
		old = o // containerd's path registered it first, without its runc root
	}
	if old != nil && old.Pid == st.Pid {
		d.mu.Unlock()
		d.log.Debug("container already registered", "namespace", ns, "container", st.ID, "pid", st.Pid, "source", old.Source)
		return nil
	}
	if old != nil {
		d.reg.remove(old.key())
	}
	d.reg.put(c)
	d.mu.Unlock()
	if old != nil {
		d.release(old, "replaced by a new task")
	}
	d.domains.add(st.Pid, c)
	tr.Mark("profile, register")
	d.log.Info("container registered", "namespace", ns, "container", st.ID, "pid", st.Pid, "profile", p.Name, "mode", p.Mode, "source", sourceHook)
	d.initialLayers(c)
	tr.Mark("log, layers")
	// Labels and image arrive from containerd without holding up the create.
	go d.enrich(context.WithoutCancel(ctx), ns, st.ID)
	// Before user code runs (runc waits for this hook): the network rules
	// of its namespace, fanotify in front of its files, the secret watch
	// and the process monitor. They are independent (each touches its own
	// part of c, under d.mu) and run at once; the hook answers when all
	// are in place.
	steps := []struct {
		name string
		run  func()
	}{
		{"nftables", func() { d.applyEgress(c) }},
		{"fanotify guard", func() {
			if d.cfg.FanotifyGuard {
				d.startGuard(c, st.Bundle)
			}
		}},
		{"secret watch", func() { d.startSecrets(c, st.Bundle) }},
		{"monitor track", func() { d.mon.track(c, st.Pid, false) }},
	}
	took := make([]time.Duration, len(steps))
	var wg sync.WaitGroup
	for i, s := range steps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			s.run()
			took[i] = time.Since(t0)
		}()
	}
	wg.Wait()
	tr.Mark("layers at once (wall)")
	for i, s := range steps {
		tr.Add(s.name, took[i])
	}
	return nil
}

// enrich fills image, labels and name from containerd and Docker.
func (d *Daemon) enrich(ctx context.Context, ns, id string) {
	lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	info, err := d.lookup(lctx, ns, id)
	if err != nil {
		d.log.Debug("container lookup", "namespace", ns, "container", id, "error", err)
		return
	}
	ident := d.identify(lctx, ns, id, info, nil)
	d.mu.Lock()
	c := d.reg.get(ns, id)
	if c != nil {
		c.Image, c.Labels = ident.Image, ident.Labels
		if c.Name == "" || ident.Docker != nil {
			c.Name = ident.Name
		}
	}
	d.mu.Unlock()
	if c != nil {
		d.dockerUnconfined(c, ident.Docker)
	}
}

// unregister forgets a container, found as registry.get finds it.
func (d *Daemon) unregister(ns, id, why string) {
	if c := d.reg.get(ns, id); c != nil {
		d.unregisterKey(c.key(), why)
	}
}

// unregisterKey forgets the container of key.
func (d *Daemon) unregisterKey(key, why string) {
	d.mu.Lock()
	c := d.reg.remove(key)
	d.mu.Unlock()
	if c != nil {
		d.release(c, why)
		if d.docker != nil && c.Namespace == d.docker.ns {
			d.docker.resolver.Forget(c.ID)
		}
	}
}

// release closes what a record no longer in the registry holds: its
// egress rules, its guard, its secret watch, its process tracking.
func (d *Daemon) release(c *container, why string) {
	d.mu.Lock()
	c.removed = true
	eg, g, sw := c.egress, c.guard, c.secrets
	c.egress, c.guard, c.secrets = nil, nil, nil
	d.mu.Unlock()
	if eg != nil {
		_ = eg.Close()
	}
	if g != nil {
		_ = g.Close()
	}
	if sw != nil {
		_ = sw.Close()
	}
	d.mon.untrack(c)
	d.log.Info("container forgotten", "namespace", c.Namespace, "container", c.ID, "root", c.Root, "why", why)
}

// registerFromContainerd records a container confined learned of through
// containerd (started before confined, while it was down, or not through
// confine-runc). The bundle annotations say which profile it was started
// with; otherwise selection runs as for a new container.
func (d *Daemon) registerFromContainerd(info *watch.Container, source string) {
	if info.Pid == 0 {
		return
	}
	pidStart := d.mon.startTime(int(info.Pid))
	if c := d.reg.get(info.Namespace, info.ID); c != nil {
		d.refreshRecord(c, info, pidStart)
		return
	}
	// The profile it was started with is in the bundle (confine-runc
	// wrote it there); containerd's copy of the spec does not have it.
	var bundleAnn map[string]string
	if info.Annotations[profiles.AnnotationDigest] == "" {
		if ann, _ := d.mon.bundleAnnotations(int(info.Pid), info.ID); ann[profiles.AnnotationDigest] != "" {
			bundleAnn = map[string]string{}
			for _, k := range []string{profiles.LabelProfile, profiles.LabelMode, profiles.AnnotationDigest, profiles.AnnotationDecision} {
				if v, ok := ann[k]; ok {
					bundleAnn[k] = v
				}
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	ident := d.identify(ctx, info.Namespace, info.ID, info, bundleAnn)
	cancel()
	// A profile confine-runc resolved by itself (confined was down) is
	// selected again now that labels are visible.
	trusted := ident.Annotations[profiles.AnnotationDigest] != "" && ident.Annotations[profiles.AnnotationDecision] != "local"
	p, reason, err := d.profileFor(ident, trusted)
	if err != nil {
		d.log.Error("no profile for a running container; it is watched with the default", "namespace", info.Namespace, "container", info.ID, "profile", p.Name, "error", err)
	}
	c := &container{
		Namespace: info.Namespace, ID: info.ID, Image: ident.Image, Labels: ident.Labels,
		Annotations: ident.Annotations, Pid: int(info.Pid), PidStart: pidStart, Source: source,
		Injected: ident.Annotations[profiles.AnnotationDigest] != "",
		Status:   info.Status, Since: time.Now(), Name: ident.Name,
	}
	if c.Status == "" {
		c.Status = "running"
	}
	c.dec.Store(d.decide(p))
	// Get-or-create in one critical section: the createRuntime hook may
	// have registered it while containerd and Docker were asked; its
	// record (and its egress rules and guard) stays.
	d.mu.Lock()
	if cur := d.reg.get(c.Namespace, c.ID); cur != nil {
		d.mu.Unlock()
		d.refreshRecord(cur, info, pidStart)
		return
	}
	pid, running := c.Pid, c.Status == "running"
	d.reg.put(c)
	d.mu.Unlock()
	d.domains.add(pid, c)
	d.log.Info("container registered", "namespace", c.Namespace, "container", c.ID, "pid", pid, "profile", p.Name, "mode", p.Mode, "source", source, "selected_by", reason, "injected", c.Injected)
	d.initialLayers(c)
	d.dockerUnconfined(c, ident.Docker)
	d.applyEgress(c)
	// A guard and the secret watch attach to a running container too
	// (after a restart).
	_, bundle := d.mon.bundleAnnotations(pid, c.ID)
	if d.cfg.FanotifyGuard {
		d.startGuard(c, bundle)
	}
	d.startSecrets(c, bundle)
	d.mon.track(c, pid, running)
}

// refreshRecord updates a registered container with what containerd says
// of it now; pidStart is the start time of info.Pid, read by the caller.
func (d *Daemon) refreshRecord(c *container, info *watch.Container, pidStart uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c.Pid == 0 || c.Pid != int(info.Pid) {
		c.Pid = int(info.Pid)
		c.PidStart = pidStart
	}
	c.Image, c.Labels = info.Image, info.Labels
	if info.Status != "" {
		c.Status = info.Status
	}
}

// handleEvent applies one containerd event.
func (d *Daemon) handleEvent(ctx context.Context, ev watch.Event) {
	switch ev.Kind {
	case watch.Resync:
		d.resync(ev.Containers)
	case watch.TaskStart, watch.TaskCreate:
		if c := d.reg.get(ev.Namespace, ev.ID); c != nil {
			d.mu.Lock()
			c.Status = "running"
			d.mu.Unlock()
			if ev.Kind == watch.TaskStart {
				d.mon.scanContainer(c)
			}
			return
		}
		info, err := d.lookup(ctx, ev.Namespace, ev.ID)
		if err != nil {
			d.log.Warn("looking up a new task", "namespace", ev.Namespace, "container", ev.ID, "error", err)
			return
		}
		if info.Pid == 0 {
			info.Pid = ev.Pid
		}
		d.registerFromContainerd(info, sourceEvent)
	case watch.TaskExecAdded, watch.TaskExecStarted:
		if c := d.reg.get(ev.Namespace, ev.ID); c != nil {
			d.domains.add(int(ev.Pid), c)
			d.mon.scanContainer(c)
		}
	case watch.TaskExit:
		if c := d.reg.get(ev.Namespace, ev.ID); c != nil {
			d.mu.Lock()
			if ev.Pid == 0 || int(ev.Pid) == c.Pid {
				c.Status = fmt.Sprintf("exited (%d)", ev.ExitStatus)
				if c.killed.Load() {
					c.Status = fmt.Sprintf("killed (%d)", ev.ExitStatus)
				}
			}
			d.mu.Unlock()
		}
	case watch.TaskDelete, watch.ContainerDelete:
		d.unregister(ev.Namespace, ev.ID, string(ev.Kind))
	case watch.TaskOOM:
		d.log.Warn("container out of memory", "namespace", ev.Namespace, "container", ev.ID)
	case watch.ContainerCreate, watch.ContainerUpdate:
		d.prefetchContainer(ctx, ev.Namespace, ev.ID)
	}
}

// resync reconciles the records with containerd's full list: add what
// runs and is missing, drop what no longer exists.
func (d *Daemon) resync(list []watch.Container) {
	seen := map[string]bool{}
	for i := range list {
		info := &list[i]
		seen[info.Namespace+"/"+info.ID] = true
		if info.Pid != 0 {
			d.registerFromContainerd(info, sourceResync)
		}
	}
	for _, c := range d.reg.all() {
		d.mu.Lock()
		pid, pidStart := c.Pid, c.PidStart
		d.mu.Unlock()
		if !seen[c.key()] && c.Root != "" && pidStart != 0 && d.mon.startTime(pid) == pidStart {
			// runc run by hand under its own --root: containerd never
			// lists it. Watched while its init lives (poststop forgets it).
			continue
		}
		if !seen[c.key()] && c.Source != sourceHook {
			d.unregisterKey(c.key(), "gone from containerd at resync")
		}
		if !seen[c.key()] && c.Source == sourceHook && time.Since(c.Since) > 30*time.Second {
			d.unregisterKey(c.key(), "gone from containerd at resync")
		}
	}
	d.log.Info("resynced with containerd", "containers", len(list), "watched", len(d.reg.all()))
}

// kill stops a whole container: signal first (the cgroup, or pidfds of
// its processes), then tell containerd, in the background, so its state
// updateGauges refreshes the metrics that are states, not counts.
func (d *Daemon) updateGauges() {
	byMode := map[string]int{"learn": 0, "monitor": 0, "enforce": 0}
	for _, c := range d.reg.all() {
		if p := c.profile(); p != nil {
			byMode[string(p.Mode)]++
		}
	}
	for m, n := range byMode {
		d.metrics.containers.WithLabelValues(m).Set(float64(n))
	}
	d.metrics.profileErrors.Set(float64(len(d.profiles.Errors())))
}

// refreshEgressDNS re-resolves the host names of every container's egress
// rules, off the main loop.
func (d *Daemon) refreshEgressDNS(ctx context.Context) {
	d.mu.Lock()
	var rs []*egress.Rules
	for _, c := range d.reg.all() {
		if c.egress != nil && len(c.egress.Hosts()) > 0 {
			rs = append(rs, c.egress)
		}
	}
	d.mu.Unlock()
	for _, r := range rs {
		go func(r *egress.Rules) {
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if _, err := r.Refresh(rctx); err != nil {
				d.log.Warn("refreshing egress host names", "error", err)
			}
		}(r)
	}
}
