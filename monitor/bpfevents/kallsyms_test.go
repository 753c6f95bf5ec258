package bpfevents

import (
	"strings"
	"testing"
)

func TestParseKallsyms(t *testing.T) {
	const listing = `ffffffff81abf920 T __pfx_cap_capable
ffffffff81abf930 T cap_capable
ffffffff81abfb30 T __pfx_cap_vm_enough_memory
ffffffff81abfb40 T cap_vm_enough_memory
ffffffff81abfb40 t alias_at_same_address
ffffffff81abfb90 T __pfx_cap_mmap_addr
ffffffff81ac5280 T security_vm_enough_memory_mm
ffffffff81ac5300 T next_one
ffffffffc0000000 t cap_vm_enough_memory	[some_module]
`
	for _, tc := range []struct {
		name    string
		listing string
		want    []textRange
		err     string
	}{
		{name: "both found, each ends at the next higher address", listing: listing,
			want: []textRange{{0xffffffff81abfb40, 0xffffffff81abfb90}, {0xffffffff81ac5280, 0xffffffff81ac5300}}},
		{name: "missing symbol", listing: "ffffffff81abf930 T cap_capable\n", err: "cap_vm_enough_memory not found"},
		{name: "hidden addresses", listing: "0000000000000000 T cap_vm_enough_memory\n0000000000000000 T x\n", err: "kptr_restrict"},
		{name: "last symbol has no end", listing: "ffffffff81abfb40 T cap_vm_enough_memory\nffffffff81ac5280 T security_vm_enough_memory_mm\n", err: "security_vm_enough_memory_mm not found"},
		{name: "garbage lines are skipped", listing: "junk\nzz T cap_vm_enough_memory\n" + listing,
			want: []textRange{{0xffffffff81abfb40, 0xffffffff81abfb90}, {0xffffffff81ac5280, 0xffffffff81ac5300}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseKallsyms(strings.NewReader(tc.listing), probeFuncs)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) || got[0] != tc.want[0] || got[1] != tc.want[1] {
				t.Errorf("got %x, want %x", got, tc.want)
			}
		})
	}
}

func FuzzParseKallsyms(f *testing.F) {
	f.Add("ffffffff81abfb40 T cap_vm_enough_memory\nffffffff81abfb90 T x\nffffffff81ac5280 T security_vm_enough_memory_mm\nffffffff81ac5300 T y\n")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseKallsyms(strings.NewReader(s), probeFuncs)
		if err == nil {
			for _, r := range got {
				if r.Lo == 0 || r.Hi <= r.Lo {
					t.Fatalf("bad range %x", r)
				}
			}
		}
	})
}
