package ctl

import (
	"bufio"
	"bytes"
	"os"
	"strings"
)

// learnedNotes returns the notes confined wrote at the head of a learned
// profile that the operator must see before installing it: what
// privileges.capabilities means (used, or only held) and warnings.
func learnedNotes(path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return parseLearnedNotes(data)
}

func parseLearnedNotes(data []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "# ")
		if !ok {
			break // the header ends at the first line that is not a comment
		}
		if strings.HasPrefix(line, "capabilities:") || strings.HasPrefix(line, "WARNING:") {
			out = append(out, line)
		}
	}
	return out
}
