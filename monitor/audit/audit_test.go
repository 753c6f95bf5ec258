package audit

import (
	"encoding/binary"
	"testing"
)

const sample = `audit(1795401234.567:42): auid=4294967295 uid=0 gid=0 ses=4294967295 subj=unconfined pid=4242 comm="sh" exe="/bin/busybox" sig=0 arch=c000003e syscall=22 compat=0 ip=0x4a1b2c code=0x7ffc0000`

func msg(typ uint16, payload string) []byte {
	b := make([]byte, 16+len(payload))
	binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:6], typ)
	copy(b[16:], payload)
	return b
}

func TestParse(t *testing.T) {
	b := append(msg(1300, "audit(1:1): arch=c000003e syscall=1"), 0, 0) // padded to 4? not needed: walk by length
	b = append(msg(typeSeccomp, sample), b...)
	rs := ParseMessages(b)
	if len(rs) != 1 {
		t.Fatalf("want 1 record, got %v", rs)
	}
	r := rs[0]
	if r.PID != 4242 || r.Arch != 0xc000003e || r.Syscall != 22 || r.Exe != "/bin/busybox" {
		t.Fatalf("%+v", r)
	}
	if _, ok := ParseRecord("audit(1:1): garbage"); ok {
		t.Fatal("garbage parsed")
	}
}

func FuzzParseMessages(f *testing.F) {
	f.Add(msg(typeSeccomp, sample))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) { _ = ParseMessages(b) })
}
