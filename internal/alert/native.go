package alert

import (
	"bytes"
	"encoding/binary"
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
