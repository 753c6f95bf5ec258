package audit

import (
	"encoding/binary"
	"strconv"
	"strings"
)

// This file is the one parser of audit records, shared by every consumer
// (SECCOMP for learning, Landlock denials): the netlink framing, the
// "audit(SEC.MSEC:SERIAL):" stamp, and the key=value fields.

// Message is one audit record as it comes from the kernel: its type
// (AUDIT_SECCOMP, AUDIT_LANDLOCK_ACCESS...) and its text.
type Message struct {
	Type uint16
	Body string
}

// SplitMessages walks one netlink datagram. Audit messages carry a 16-byte
// nlmsghdr whose length is not always netlink-aligned, so it is walked by
// hand: a length past the end is cut to the datagram, a zero or short one
// ends the walk.
func SplitMessages(b []byte) []Message {
	var out []Message
	for len(b) >= 16 {
		l := int(binary.NativeEndian.Uint32(b[0:4]))
		typ := binary.NativeEndian.Uint16(b[4:6])
		if l < 16 || l > len(b) {
			l = len(b)
		}
		out = append(out, Message{Type: typ, Body: string(b[16:l])})
		adv := (l + 3) &^ 3
		if adv > len(b) {
			break
		}
		b = b[adv:]
	}
	return out
}

// Stamp is the "audit(1764770000.123:456):" prefix of a record: when the
// kernel logged it and its serial number (records of one event share it;
// serials grow by one per event since boot).
type Stamp struct {
	Sec    int64
	Msec   int
	Serial uint64
}

// ParseStamp splits "audit(SEC.MSEC:SERIAL): rest" into the stamp and
// rest. ok is false when s does not start with a stamp; rest is then s.
func ParseStamp(s string) (st Stamp, rest string, ok bool) {
	const pre = "audit("
	if !strings.HasPrefix(s, pre) {
		return Stamp{}, s, false
	}
	end := strings.IndexByte(s, ')')
	if end < 0 {
		return Stamp{}, s, false
	}
	in := s[len(pre):end]
	ts, serial, ok1 := strings.Cut(in, ":")
	sec, msec, ok2 := strings.Cut(ts, ".")
	if !ok1 || !ok2 {
		return Stamp{}, s, false
	}
	var err error
	if st.Sec, err = strconv.ParseInt(sec, 10, 64); err != nil {
		return Stamp{}, s, false
	}
	if st.Msec, err = strconv.Atoi(msec); err != nil {
		return Stamp{}, s, false
	}
	if st.Serial, err = strconv.ParseUint(serial, 10, 64); err != nil {
		return Stamp{}, s, false
	}
	rest = strings.TrimPrefix(s[end+1:], ":")
	return st, strings.TrimLeft(rest, " "), true
}

// forEachField calls fn with every key=value field of a record's text, the
// value unquoted ("x" → x; the kernel's hex encoding of untrusted strings
// decoded). Words without '=' (the stamp) are skipped.
func forEachField(s string, fn func(k, v string)) {
	for _, f := range fields(s) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		fn(k, v)
	}
}

// fields splits on spaces outside double quotes (paths may hold spaces;
// the kernel hex-encodes names with spaces or quotes, unquoted).
func fields(s string) []string {
	var out []string
	start, inQ := -1, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			inQ = !inQ
			if start < 0 {
				start = i
			}
		case c == ' ' && !inQ:
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
		default:
			if start < 0 {
				start = i
			}
		}
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}

// unquote turns "x" into x, and the kernel's hex encoding of untrusted
// strings (used when a name has a space, a quote or a control byte) into
// the bytes. Anything else (a number, a bare word) is returned as is.
func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	if len(v)%2 == 0 && v != "" {
		b := make([]byte, len(v)/2)
		for i := range b {
			n, err := strconv.ParseUint(v[2*i:2*i+2], 16, 8)
			if err != nil {
				return v
			}
			b[i] = byte(n)
		}
		return string(b)
	}
	return v
}

// KmsgRecord is a /dev/kmsg record that concerns audit. With no audit
// daemon registered, the kernel prints every audit record it sends to its
// log as well, rate-limited: "audit: type=1423 audit(...): ...", and
// "kauditd_printk_skb: N callbacks suppressed" for what the limit dropped.
type KmsgRecord struct {
	// Seq is the kernel log's own sequence number of the record.
	Seq uint64
	// Msg is the audit record (Type 0 for a suppression notice).
	Msg Message
	// Suppressed counts audit records the kernel did not print.
	Suppressed int
}

// ParseKmsg reads one /dev/kmsg record ("PRI,SEQ,USEC,FLAGS;TEXT", with
// any continuation lines after a newline ignored). ok is false for records
// that are not about audit.
func ParseKmsg(rec string) (KmsgRecord, bool) {
	var k KmsgRecord
	head, text, ok := strings.Cut(rec, ";")
	if !ok {
		return k, false
	}
	text, _, _ = strings.Cut(text, "\n")
	parts := strings.SplitN(head, ",", 4)
	if len(parts) < 3 {
		return k, false
	}
	seq, err := strconv.ParseUint(parts[1], 10, 64)
	if err != nil {
		return k, false
	}
	k.Seq = seq
	if rest, ok := strings.CutPrefix(text, "kauditd_printk_skb: "); ok {
		n, _, _ := strings.Cut(rest, " ")
		if k.Suppressed, err = strconv.Atoi(n); err != nil || k.Suppressed < 0 {
			return KmsgRecord{}, false
		}
		return k, true
	}
	rest, ok := strings.CutPrefix(text, "audit: type=")
	if !ok {
		return k, false
	}
	typ, body, ok := strings.Cut(rest, " ")
	if !ok {
		return k, false
	}
	t, err := strconv.ParseUint(typ, 10, 16)
	if err != nil || t == 0 {
		return KmsgRecord{}, false
	}
	k.Msg = Message{Type: uint16(t), Body: body}
	return k, true
}
