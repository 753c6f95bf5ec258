package proccon

import (
	"github.com/confinehq/confine/internal/testbed"

	"context"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// runTrue forks and execs /bin/true and waits for it; it returns its pid.
func runTrue(t testing.TB) int {
	t.Helper()
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatalf("running /bin/true: %v", err)
	}
	return cmd.Process.Pid
}

func listen(t testing.TB, ctx context.Context, opts ...Option) *Conn {
	t.Helper()
	c, err := Listen(ctx, opts...)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitExec reads events until an exec of pid arrives; it returns the events
// read before it.
func waitExec(t testing.TB, c *Conn, pid int) []Event {
	t.Helper()
	var before []Event
	timeout := time.After(testbed.Bound)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatalf("events closed before exec of %d (err %v)", pid, c.Err())
			}
			if ev.Kind == KindExec && ev.TGID == pid {
				return before
			}
			before = append(before, ev)
		case <-timeout:
			t.Fatalf("no exec event for pid %d within %s", pid, testbed.Bound)
		}
	}
}

func kernelAtLeast(t testing.TB, major, minor int) bool {
	t.Helper()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	rel := unix.ByteSliceToString(u.Release[:])
	parts := strings.SplitN(rel, ".", 3)
	if len(parts) < 2 {
		t.Fatalf("kernel release %q", rel)
	}
	ma, _ := strconv.Atoi(parts[0])
	mi, _ := strconv.Atoi(strings.TrimLeftFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	return ma > major || (ma == major && mi >= minor)
}

// TestExecBurst forks and execs /bin/true 1,000 times and checks that the
// exec and the exit of every one of them was seen.
func TestExecBurst(t *testing.T) {
	testbed.RequiresRoot(t)
	const n = 1000
	c := listen(t, context.Background(), WithKinds(KindFork, KindExec, KindExit))

	type result struct {
		missingExec, missingExit []int
		overflows                int
	}
	want := make(chan map[int]int, 1)
	done := make(chan result, 1)
	go func() {
		execs, exits := map[int]int{}, map[int]int{}
		var overflows int
		var expect map[int]int
		var timeout <-chan time.Time
		check := func() (result, bool) {
			r := result{overflows: overflows}
			for pid, k := range expect {
				if execs[pid] < k {
					r.missingExec = append(r.missingExec, pid)
				}
				if exits[pid] < k {
					r.missingExit = append(r.missingExit, pid)
				}
			}
			return r, len(r.missingExec) == 0 && len(r.missingExit) == 0
		}
		for {
			if expect != nil {
				if r, ok := check(); ok {
					done <- r
					return
				}
			}
			select {
			case ev, ok := <-c.Events():
				if !ok {
					r, _ := check()
					done <- r
					return
				}
				switch {
				case ev.Kind == KindOverflow:
					overflows++
				case ev.Kind == KindExec:
					execs[ev.TGID]++
				case ev.Kind == KindExit && ev.Leader():
					exits[ev.TGID]++
				}
			case expect = <-want:
				timeout = time.After(testbed.Bound)
			case <-timeout:
				r, _ := check()
				done <- r
				return
			}
		}
	}()

	// Two spawners in parallel keep both cores busy; pids may repeat when
	// pid_max wraps, hence counts.
	started := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n/2; i++ {
				cmd := exec.Command("/bin/true")
				if err := cmd.Run(); err != nil {
					t.Errorf("running /bin/true: %v", err)
					return
				}
				pid := cmd.Process.Pid
				mu.Lock()
				started[pid]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	want <- started
	r := <-done
	if len(r.missingExec) > 0 || len(r.missingExit) > 0 {
		t.Fatalf("of %d processes, %d execs and %d exits not seen (overflows: %d); first missing execs %v",
			n, len(r.missingExec), len(r.missingExit), r.overflows, r.missingExec[:min(10, len(r.missingExec))])
	}
	t.Logf("all %d execs and exits seen; kernel filter %v, receive buffer %d, overflows %d",
		n, c.KernelFilter(), c.ReadBuffer(), r.overflows)
}

// TestOverflow stops reading while a burst overflows a tiny socket buffer:
// the loss must show as KindOverflow (or nothing may be lost), and the
// connection must keep delivering afterwards.
func TestOverflow(t *testing.T) {
	testbed.RequiresRoot(t)
	const n = 300
	c := listen(t, context.Background(), WithKinds(KindFork, KindExec, KindExit), WithReadBuffer(1), WithChannelSize(1))
	t.Logf("receive buffer granted: %d bytes", c.ReadBuffer())
	started := map[int]bool{}
	for i := 0; i < n; i++ {
		started[runTrue(t)] = true
	}

	// Now read, and run markers until the exec of one of them arrives:
	// the first markers may themselves be lost while the queue drains.
	var mu sync.Mutex
	markers := map[int]bool{}
	var events []Event
	seen := make(chan struct{})
	go func() {
		defer close(seen)
		for ev := range c.Events() {
			mu.Lock()
			events = append(events, ev)
			hit := ev.Kind == KindExec && markers[ev.TGID]
			mu.Unlock()
			if hit {
				return
			}
		}
	}()
	deadline := time.After(testbed.Bound)
	for found := false; !found; {
		cmd := exec.Command("/bin/true")
		mu.Lock() // the marker's pid is known before its events are read
		if err := cmd.Start(); err != nil {
			mu.Unlock()
			t.Fatal(err)
		}
		markers[cmd.Process.Pid] = true
		mu.Unlock()
		cmd.Wait()
		select {
		case <-seen:
			found = true
		case <-time.After(100 * time.Millisecond): // retry with another marker
		case <-deadline:
			t.Fatalf("no marker exec within %s", testbed.Bound)
		}
	}

	var overflows, lastOverflow int
	for i, ev := range events {
		switch ev.Kind {
		case KindOverflow:
			overflows++
			lastOverflow = i
		case KindExec:
			delete(started, ev.TGID)
		}
	}
	if overflows == 0 && len(started) > 0 {
		t.Fatalf("%d of %d execs lost without an overflow event", len(started), n)
	}
	if overflows > 0 && lastOverflow == len(events)-1 {
		t.Fatal("nothing delivered after the last overflow")
	}
	t.Logf("%d events read, %d overflow events, %d of %d execs lost, %d markers run",
		len(events), overflows, len(started), n, len(markers))
}

// TestKernelFilter checks that on Linux >= 6.6 the kernel filters event
// types: nothing of an unwanted kind reaches the socket.
func TestKernelFilter(t *testing.T) {
	testbed.RequiresRoot(t)
	c := listen(t, context.Background(), WithKinds(KindExec))
	if !kernelAtLeast(t, 6, 6) {
		t.Skipf("kernel filter needs Linux 6.6 (kernel filter detected: %v)", c.KernelFilter())
	}
	if !c.KernelFilter() {
		t.Fatal("Linux >= 6.6 but the kernel filter was not detected")
	}
	// Everything queued before the mask was set comes before this exec.
	waitExec(t, c, runTrue(t))
	u0 := c.unwanted.Load()
	for i := 0; i < 50; i++ {
		runTrue(t)
	}
	before := waitExec(t, c, runTrue(t))
	for _, ev := range before {
		if ev.Kind != KindExec {
			t.Errorf("unwanted %s delivered", ev)
		}
	}
	if u := c.unwanted.Load(); u != u0 {
		t.Errorf("%d unwanted events reached the socket (fork/exit of 51 processes)", u-u0)
	}
}

// TestUserFilter runs the path of kernels before 6.6: every event type
// reaches the socket and unwanted kinds are dropped here.
func TestUserFilter(t *testing.T) {
	testbed.RequiresRoot(t)
	c := listen(t, context.Background(), WithKinds(KindExec), func(o *options) { o.noKernelFilter = true })
	if c.KernelFilter() {
		t.Fatal("kernel filter negotiated although disabled")
	}
	waitExec(t, c, runTrue(t))
	u0 := c.unwanted.Load()
	for i := 0; i < 20; i++ {
		runTrue(t)
	}
	before := waitExec(t, c, runTrue(t))
	for _, ev := range before {
		if ev.Kind != KindExec {
			t.Errorf("unwanted %s delivered", ev)
		}
	}
	if c.unwanted.Load() == u0 {
		t.Error("no fork or exit event reached the socket: is the kernel filtering after all?")
	}
}

func TestCloseAndCancel(t *testing.T) {
	testbed.RequiresRoot(t)
	base := runtime.NumGoroutine()

	t.Run("close", func(t *testing.T) {
		c, err := Listen(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil { // twice is fine
			t.Fatal(err)
		}
		for range c.Events() { // drains and ends: the channel is closed
		}
		if err := c.Err(); err != nil {
			t.Errorf("Err after Close = %v", err)
		}
	})
	t.Run("close with a full channel", func(t *testing.T) {
		c, err := Listen(context.Background(), WithChannelSize(1), WithKinds(KindFork, KindExec, KindExit))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5; i++ {
			runTrue(t)
		}
		c.Close()
	})
	t.Run("context cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		c, err := Listen(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		timeout := time.After(testbed.Bound)
		for open := true; open; {
			select {
			case _, open = <-c.Events():
			case <-timeout:
				t.Fatal("events channel not closed after cancel")
			}
		}
		c.Close()
	})
	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Listen(ctx); err == nil {
			t.Fatal("Listen with a cancelled context succeeded")
		}
	})
	t.Run("no kinds", func(t *testing.T) {
		if _, err := Listen(context.Background(), WithKinds(KindOverflow)); err == nil {
			t.Fatal("Listen without kernel event kinds succeeded")
		}
	})

	deadline := time.Now().Add(testbed.Bound)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines leaked: %d > %d\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkDelivery measures the time from the kernel's timestamp of an exec
// to its arrival on the Events channel, while /bin/true runs b.N times.
func BenchmarkDelivery(b *testing.B) {
	testbed.RequiresRoot(b)
	c := listen(b, context.Background(), WithKinds(KindExec))
	lat := make(chan []time.Duration)
	stop := make(chan struct{})
	go func() {
		var ds []time.Duration
		for {
			select {
			case ev := <-c.Events():
				if ev.Kind != KindExec {
					continue
				}
				var ts unix.Timespec
				_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
				ds = append(ds, time.Duration(ts.Nano())-ev.Timestamp)
			case <-stop:
				lat <- ds
				return
			}
		}
	}()
	for b.Loop() {
		runTrue(b)
	}
	close(stop)
	ds := <-lat
	if len(ds) == 0 {
		b.Fatal("no exec events")
	}
	slices.Sort(ds)
	q := func(p float64) float64 { return float64(ds[int(p*float64(len(ds)-1))].Nanoseconds()) / 1e3 }
	b.ReportMetric(q(0.5), "µs-p50")
	b.ReportMetric(q(0.99), "µs-p99")
	b.ReportMetric(q(1), "µs-max")
}
