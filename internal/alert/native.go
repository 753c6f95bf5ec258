package alert

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// EncodeNative encodes fields in journald's native protocol: KEY=value
// lines, and KEY\n<le64 length><data>\n for values with a newline.
func EncodeNative(fields map[string]string, keys []string) []byte {
	var b bytes.Buffer
	for _, k := range keys {
		v := fields[k]
		if strings.ContainsRune(v, '\n') {
			b.WriteString(k)
			b.WriteByte('\n')
			var n [8]byte
			binary.LittleEndian.PutUint64(n[:], uint64(len(v)))
			b.Write(n[:])
			b.WriteString(v)
			b.WriteByte('\n')
			continue
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func sendNative(socket string, a *Alert) error {
	f := a.Fields()
	f["MESSAGE"] = a.Message
	f["PRIORITY"] = strconv.Itoa(a.Priority)
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write(EncodeNative(f, keys))
	return err
}

// ParseNative decodes one datagram of journald's native protocol (the
// inverse of EncodeNative), as journald does.
func ParseNative(b []byte) (map[string]string, error) {
	out := map[string]string{}
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			return nil, fmt.Errorf("unterminated field")
		}
		line := b[:nl]
		if eq := bytes.IndexByte(line, '='); eq >= 0 {
			out[string(line[:eq])] = string(line[eq+1:])
			b = b[nl+1:]
			continue
		}
		key := string(line)
		b = b[nl+1:]
		if len(b) < 8 {
			return nil, fmt.Errorf("short binary field %s", key)
		}
		n := binary.LittleEndian.Uint64(b[:8])
		if uint64(len(b)-8) < n+1 {
			return nil, fmt.Errorf("binary field %s longer than the entry", key)
		}
		out[key] = string(b[8 : 8+n])
		b = b[8+n+1:]
	}
	return out, nil
}
