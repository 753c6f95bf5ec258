package bpfevents

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
)

// probeFuncs are the kernel functions whose CAP_SYS_ADMIN checks are
// probes, not uses (see from_probe in bpf/events.c): memory accounting asks
// on every accounted mmap, brk and stack growth whether the task could use
// the admin reserve.
var probeFuncs = []string{"cap_vm_enough_memory", "security_vm_enough_memory_mm"}

// textRange is a function's kernel text [Lo, Hi).
type textRange struct{ Lo, Hi uint64 }

// probeRanges reads the text ranges of probeFuncs from /proc/kallsyms.
func probeRanges() ([]textRange, error) {
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		return nil, fmt.Errorf("reading kernel symbols: %w", err)
	}
	defer f.Close()
	return parseKallsyms(f, probeFuncs)
}

// parseKallsyms finds each named text symbol in a /proc/kallsyms listing
// and ends it at the next symbol with a higher address (the listing is in
// address order). A name that is missing, or whose address reads as 0
// (kptr_restrict hides addresses), is an error.
func parseKallsyms(r io.Reader, names []string) ([]textRange, error) {
	want := map[string]int{}
	for i, n := range names {
		want[n] = i
	}
	out := make([]textRange, len(names))
	var open []int // found, waiting for their end
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 3 {
			continue
		}
		addr, err := strconv.ParseUint(string(f[0]), 16, 64)
		if err != nil {
			continue
		}
		still := open[:0]
		for _, i := range open {
			if addr > out[i].Lo {
				out[i].Hi = addr
			} else {
				still = append(still, i)
			}
		}
		open = still
		if len(f) > 3 { // a module's symbol: [module]
			continue
		}
		if i, ok := want[string(f[2])]; ok && (f[1][0] == 't' || f[1][0] == 'T') && out[i].Lo == 0 {
			if addr == 0 {
				return nil, fmt.Errorf("kernel symbol %s has address 0 (kernel.kptr_restrict hides addresses)", f[2])
			}
			out[i].Lo = addr
			open = append(open, i)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading kernel symbols: %w", err)
	}
	for i, n := range names {
		if out[i].Lo == 0 || out[i].Hi == 0 {
			return nil, fmt.Errorf("kernel symbol %s not found in /proc/kallsyms", n)
		}
	}
	return out, nil
}
