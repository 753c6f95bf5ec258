package proccon

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Connector identity of the process-events connector: CN_IDX_PROC and
// CN_VAL_PROC of include/uapi/linux/connector.h. golang.org/x/sys/unix has
// NETLINK_CONNECTOR but not these. cnIdxProc is also the multicast group.
const (
	cnIdxProc = 1
	cnValProc = 1
)

// Multicast control operations: PROC_CN_MCAST_LISTEN and
// PROC_CN_MCAST_IGNORE (enum proc_cn_mcast_op, include/uapi/linux/cn_proc.h).
const (
	mcastListen = 1
	mcastIgnore = 2
)

// Event type bits: PROC_EVENT_* (enum proc_cn_event, the proc_event.what
// field; kernels >= 6.6 also take them as the proc_input.event_type mask).
const (
	evNone        = 0x00000000
	evFork        = 0x00000001
	evExec        = 0x00000002
	evUID         = 0x00000004
	evGID         = 0x00000040
	evSID         = 0x00000080
	evPtrace      = 0x00000100
	evComm        = 0x00000200
	evNonzeroExit = 0x20000000
	evCoredump    = 0x40000000
	evExit        = 0x80000000

	// evAll is what kernels >= 6.6 accept as an event_type mask.
	evAll = evFork | evExec | evUID |
		evGID | evSID | evPtrace | evComm |
		evNonzeroExit | evCoredump | evExit
)

// Wire sizes.
const (
	sizeofNlMsghdr = unix.SizeofNlMsghdr // 16
	sizeofCnMsg    = 20                  // struct cn_msg without data
	// sizeofEventHeader covers what, cpu and timestamp_ns of struct proc_event.
	sizeofEventHeader = 16
	// sizeofProcEvent is sizeof(struct proc_event): the header plus the
	// largest union member (comm and exit, 24 bytes).
	sizeofProcEvent = sizeofEventHeader + 24
)

// ErrMalformed is wrapped by every parse error: the bytes are not a
// well-formed netlink / connector / proc_event message.
var ErrMalformed = errors.New("malformed proc connector message")

// message is one parsed connector message: the event plus the connector
// header fields needed to match acknowledgements.
type message struct {
	seq, ack uint32
	// ackErr is the errno of an acknowledgement (what == evNone).
	ackErr uint32
	ev     Event
}

// ParseEvents parses a datagram read from a proc connector socket into
// events. Acknowledgements, netlink no-ops and messages of other connectors
// are skipped; unknown event types are returned with Kind KindUnknown.
// It is a pure function of b.
func ParseEvents(b []byte) ([]Event, error) {
	msgs, err := parseMessages(b, nil)
	evs := make([]Event, 0, len(msgs))
	for _, m := range msgs {
		if m.ev.Kind != KindNone {
			evs = append(evs, m.ev)
		}
	}
	return evs, err
}

// parseMessages appends every connector message in the netlink datagram b to
// dst. On error it returns what was parsed before the bad message.
func parseMessages(b []byte, dst []message) ([]message, error) {
	ne := binary.NativeEndian
	for off := 0; len(b)-off >= sizeofNlMsghdr; {
		hdr := b[off:]
		l := int(ne.Uint32(hdr[0:4]))
		typ := ne.Uint16(hdr[4:6])
		if l < sizeofNlMsghdr || l > len(hdr) {
			return dst, fmt.Errorf("%w: netlink length %d at offset %d of %d bytes", ErrMalformed, l, off, len(b))
		}
		payload := hdr[sizeofNlMsghdr:l]
		next := off + nlmsgAlign(l)
		switch typ {
		case unix.NLMSG_NOOP:
		case unix.NLMSG_ERROR:
			if len(payload) < 4 {
				return dst, fmt.Errorf("%w: short netlink error at offset %d", ErrMalformed, off)
			}
			errno := -int32(ne.Uint32(payload[0:4]))
			if errno != 0 {
				return dst, fmt.Errorf("netlink error from proc connector: %w", unix.Errno(errno))
			}
		case unix.NLMSG_OVERRUN:
			return dst, fmt.Errorf("netlink overrun on proc connector: %w", unix.ENOBUFS)
		default:
			// The connector sends every message as NLMSG_DONE; accept
			// any other type the same way rather than guess.
			m, ok, err := parseCnMsg(payload)
			if err != nil {
				return dst, fmt.Errorf("at offset %d: %w", off, err)
			}
			if ok {
				dst = append(dst, m)
			}
		}
		if next <= off { // cannot happen with l >= 16, but never loop forever
			break
		}
		off = next
	}
	return dst, nil
}

func nlmsgAlign(l int) int { return (l + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// parseCnMsg parses a struct cn_msg carrying a struct proc_event. ok is false
// for messages of another connector.
func parseCnMsg(b []byte) (m message, ok bool, err error) {
	ne := binary.NativeEndian
	if len(b) < sizeofCnMsg {
		return m, false, fmt.Errorf("%w: connector header needs %d bytes, have %d", ErrMalformed, sizeofCnMsg, len(b))
	}
	idx, val := ne.Uint32(b[0:4]), ne.Uint32(b[4:8])
	if idx != cnIdxProc || val != cnValProc {
		return m, false, nil
	}
	m.seq = ne.Uint32(b[8:12])
	m.ack = ne.Uint32(b[12:16])
	dlen := int(ne.Uint16(b[16:18]))
	data := b[sizeofCnMsg:]
	if dlen > len(data) {
		return m, false, fmt.Errorf("%w: connector data length %d exceeds %d bytes", ErrMalformed, dlen, len(data))
	}
	ev, ackErr, err := parseProcEvent(data[:dlen])
	if err != nil {
		return m, false, err
	}
	m.ev, m.ackErr = ev, ackErr
	return m, true, nil
}

// parseProcEvent decodes a struct proc_event. Older kernels send fewer
// bytes for some events (exit without parent fields): fields past the end
// of b are left zero, but the fields an event kind cannot do without must
// be present.
func parseProcEvent(b []byte) (ev Event, ackErr uint32, err error) {
	ne := binary.NativeEndian
	if len(b) < sizeofEventHeader {
		return ev, 0, fmt.Errorf("%w: proc_event needs %d bytes, have %d", ErrMalformed, sizeofEventHeader, len(b))
	}
	what := ne.Uint32(b[0:4])
	ev.CPU = ne.Uint32(b[4:8])
	ev.Timestamp = time.Duration(ne.Uint64(b[8:16]))
	d := b[sizeofEventHeader:]
	u32 := func(i int) uint32 {
		if 4*i+4 > len(d) {
			return 0
		}
		return ne.Uint32(d[4*i:])
	}
	pid := func(i int) int { return int(int32(u32(i))) }
	need := func(words int) error {
		if len(d) < 4*words {
			return fmt.Errorf("%w: %s event needs %d data bytes, have %d", ErrMalformed, kindOf(what), 4*words, len(d))
		}
		return nil
	}
	ev.Kind = kindOf(what)
	switch what {
	case evNone:
		if err := need(1); err != nil {
			return ev, 0, err
		}
		return ev, u32(0), nil
	case evFork:
		if err := need(4); err != nil {
			return ev, 0, err
		}
		ev.ParentPID, ev.ParentTGID = pid(0), pid(1)
		ev.PID, ev.TGID = pid(2), pid(3)
	case evExec, evSID:
		if err := need(2); err != nil {
			return ev, 0, err
		}
		ev.PID, ev.TGID = pid(0), pid(1)
	case evUID, evGID:
		if err := need(4); err != nil {
			return ev, 0, err
		}
		ev.PID, ev.TGID = pid(0), pid(1)
		ev.RealID, ev.EffectiveID = u32(2), u32(3)
	case evPtrace:
		if err := need(4); err != nil {
			return ev, 0, err
		}
		ev.PID, ev.TGID = pid(0), pid(1)
		ev.TracerPID, ev.TracerTGID = pid(2), pid(3)
	case evComm:
		if err := need(2); err != nil {
			return ev, 0, err
		}
		ev.PID, ev.TGID = pid(0), pid(1)
		comm := d[8:min(len(d), 8+16)]
		for i, c := range comm {
			if c == 0 {
				comm = comm[:i]
				break
			}
		}
		ev.Comm = string(comm)
	case evCoredump:
		if err := need(2); err != nil {
			return ev, 0, err
		}
		ev.PID, ev.TGID = pid(0), pid(1)
		ev.ParentPID, ev.ParentTGID = pid(2), pid(3) // zero before 4.19
	case evExit:
		if err := need(4); err != nil {
			return ev, 0, err
		}
		ev.PID, ev.TGID = pid(0), pid(1)
		ev.ExitCode, ev.ExitSignal = u32(2), u32(3)
		ev.ParentPID, ev.ParentTGID = pid(4), pid(5) // zero before 4.19
	default:
		ev.What = what
	}
	return ev, 0, nil
}

// marshalControl builds the netlink datagram that sends a multicast control
// operation to the proc connector. With withMask it carries a struct
// proc_input (op and event_type mask, kernels >= 6.6); without, the bare
// enum proc_cn_mcast_op every kernel understands.
func marshalControl(seq, ack, portID, op uint32, withMask bool, mask uint32) []byte {
	ne := binary.NativeEndian
	dlen := 4
	if withMask {
		dlen = 8
	}
	total := sizeofNlMsghdr + sizeofCnMsg + dlen
	b := make([]byte, total)
	ne.PutUint32(b[0:4], uint32(total))
	ne.PutUint16(b[4:6], unix.NLMSG_DONE)
	ne.PutUint16(b[6:8], 0)
	ne.PutUint32(b[8:12], seq)
	ne.PutUint32(b[12:16], portID)
	c := b[sizeofNlMsghdr:]
	ne.PutUint32(c[0:4], cnIdxProc)
	ne.PutUint32(c[4:8], cnValProc)
	ne.PutUint32(c[8:12], seq)
	ne.PutUint32(c[12:16], ack)
	ne.PutUint16(c[16:18], uint16(dlen))
	ne.PutUint16(c[18:20], 0)
	ne.PutUint32(c[20:24], op)
	if withMask {
		ne.PutUint32(c[24:28], mask)
	}
	return b
}
