package testbed

import (
	"fmt"
	"testing"
	"time"
)

// Bound is how long a test waits for something that normally takes
// milliseconds. Reaching it is a failure, never a measurement.
const Bound = 30 * time.Second

// Eventually polls cond every 50 ms until it returns true, and fails the
// test with what (formatted with args) when timeout passes first. Tests
// wait with it rather than with a bare sleep: a wait that ends on a
// condition is both faster and an assertion.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, what string, args ...any) {
	t.Helper()
	if !Poll(timeout, cond) {
		t.Fatalf("after %s: %s", timeout, fmt.Sprintf(what, args...))
	}
}

// Poll is Eventually without a test: it reports whether cond became true
// within timeout.
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}
