package fanotify

import "sync"

// DefaultCacheSize bounds a guard's decision cache when GuardConfig leaves
// it zero.
const DefaultCacheSize = 8192

// cacheKey identifies a decision. The path is part of it: rules are path
// rules, and an inode can have several names (hard links, renames).
type cacheKey struct {
	dev, ino uint64
	path     string
	deleted  bool
	kind     Kind
	role     ExecRole
	write    writeKey
}

// writeKey is the access mode part of a cacheKey.
type writeKey uint8

const (
	// writeAny: the verdict holds for reading and writing (always for an
	// exec; Verdict.IgnoresWrite for an open).
	writeAny writeKey = iota
	writeNo
	writeYes
)

func writeOf(write bool) writeKey {
	if write {
		return writeYes
	}
	return writeNo
}

// cache holds verdicts of Decide. A generation number lets a decision that
// was started before an invalidation be dropped instead of stored.
type cache struct {
	mu  sync.Mutex
	gen uint64
	max int
	m   map[cacheKey]Verdict
}

func newCache(max int) *cache {
	return &cache{max: max, m: make(map[cacheKey]Verdict)}
}

// get returns a cached verdict and the current generation.
func (c *cache) get(k cacheKey) (Verdict, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok, c.gen
}

// put stores a verdict decided in generation gen, unless the cache was
// invalidated since. A full cache drops an arbitrary entry.
func (c *cache) put(k cacheKey, v Verdict, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || c.max <= 0 {
		return
	}
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = v
}

func (c *cache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.m)
}

func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// fileID is a file's identity.
type fileID struct{ dev, ino uint64 }

// maxInterpWait bounds the threads with an expected ELF interpreter and
// the processes whose executable is to be re-checked.
const maxInterpWait = 4096

// loaderCheck is an ELF interpreter that was let through as one.
type loaderCheck struct {
	id   fileID
	path string
}

// interpWait remembers, per thread, the ELF interpreter that the kernel
// will open next for a binary the thread was just allowed to execute; and
// per process, an interpreter let through as one, until the process's
// first open after the exec shows what it runs.
type interpWait struct {
	mu      sync.Mutex
	m       map[int]fileID
	recheck map[int]loaderCheck
}

func (w *interpWait) expect(tid int, id fileID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil || len(w.m) >= maxInterpWait {
		w.m = make(map[int]fileID)
	}
	w.m[tid] = id
}

// take removes and returns what tid waits for.
func (w *interpWait) take(tid int) (fileID, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	id, ok := w.m[tid]
	if ok {
		delete(w.m, tid)
	}
	return id, ok
}

// checkLater asks for the executable of process pid to be compared with
// an interpreter at its first open after the exec.
func (w *interpWait) checkLater(pid int, c loaderCheck) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.recheck == nil || len(w.recheck) >= maxInterpWait {
		w.recheck = make(map[int]loaderCheck)
	}
	w.recheck[pid] = c
}

// pendingCheck returns the check waiting for the process whose thread tid
// is (after an exec, the only thread's ID is the process ID).
func (w *interpWait) pendingCheck(tid int) (loaderCheck, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.recheck[tid]
	return c, ok
}

func (w *interpWait) doneCheck(tid int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.recheck, tid)
}
