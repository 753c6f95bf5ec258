package daemon

import (
	"slices"
	"testing"
)

func TestCapNamesRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mask  uint64
		names []string
	}{
		{name: "none", mask: 0, names: nil},
		{name: "chown and sys_admin", mask: 1<<0 | 1<<21, names: []string{"CHOWN", "SYS_ADMIN"}},
		{name: "the highest known", mask: 1 << 40, names: []string{"CHECKPOINT_RESTORE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := capNames(tc.mask); !slices.Equal(got, tc.names) {
				t.Errorf("capNames(%#x) = %v, want %v", tc.mask, got, tc.names)
			}
			if got := capMask(tc.names); got != tc.mask {
				t.Errorf("capMask(%v) = %#x, want %#x", tc.names, got, tc.mask)
			}
		})
	}
	if got := capMask([]string{"NOT_A_CAP"}); got != 0 {
		t.Errorf("unknown name gave %#x", got)
	}
}
