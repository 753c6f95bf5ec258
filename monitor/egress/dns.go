package egress

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Resolver looks up the addresses of a DNS name; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// HostStatus is what is known about one DNS name in network.egress.
type HostStatus struct {
	// Host is the name as the profile has it.
	Host string
	// Addrs are the addresses the rules admit for it: the last two
	// successful answers, merged.
	Addrs []netip.Addr
	// Resolved is when it last resolved; zero if it never did.
	Resolved time.Time
	// Err is the last lookup's error, nil after a success.
	Err error
}

// hostState keeps one name's answers.
type hostState struct {
	current, previous []netip.Addr
	resolved          time.Time
	err               error
}

// admitted are the addresses the rules let through: the current answer and
// the one before it, so that a client that cached the previous answer (up
// to one refresh interval old) is not refused while round-robin DNS
// rotates.
func (h *hostState) admitted() []netip.Addr {
	out := slices.Clone(h.current)
	for _, a := range h.previous {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return out
}

// answer is one lookup's result.
type answer struct {
	addrs []netip.Addr
	err   error
}

// lookupAll looks up each name once, concurrently, within timeout.
func lookupAll(ctx context.Context, r Resolver, timeout time.Duration, names []string) map[string]answer {
	type named struct {
		name string
		answer
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ch := make(chan named, len(names))
	for _, n := range names {
		go func() {
			addrs, err := r.LookupNetIP(ctx, "ip", n)
			ch <- named{n, answer{addrs, err}}
		}()
	}
	out := make(map[string]answer, len(names))
	for range names {
		a := <-ch
		out[a.name] = a.answer
	}
	return out
}

// merge records answers into states. A failed lookup keeps the name's
// previous addresses: a DNS outage must not cut a container off from a
// database it already uses. It reports whether any admitted address set
// changed.
func merge(states map[string]*hostState, answers map[string]answer, now time.Time) bool {
	changed := false
	for name, a := range answers {
		st := states[name]
		if st == nil {
			st = &hostState{}
			states[name] = st
		}
		before := st.admitted()
		if a.err != nil {
			st.err = fmt.Errorf("resolving %q: %w", name, a.err)
		} else {
			var addrs []netip.Addr
			for _, ad := range a.addrs {
				ad = ad.Unmap()
				if !slices.Contains(addrs, ad) {
					addrs = append(addrs, ad)
				}
			}
			slices.SortFunc(addrs, func(x, y netip.Addr) int { return x.Compare(y) })
			st.previous, st.current = st.current, addrs
			st.resolved, st.err = now, nil
		}
		if !slices.Equal(before, st.admitted()) {
			changed = true
		}
	}
	return changed
}
