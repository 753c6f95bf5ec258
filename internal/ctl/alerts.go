package ctl

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func init() {
	register(command{"alerts", "[--since 1h] [--follow] [--container ID] [--rule R]: read confine's alerts", alerts})
}

// alertRecord is one alert in the jsonl field names (lower case, no
// CONFINE_ prefix), whichever sink it was read from.
type alertRecord map[string]any

func (a alertRecord) str(k string) string {
	if v, ok := a[k]; ok && v != nil {
		return fmt.Sprint(v)
	}
	return ""
}

// fromJournal converts a `journalctl -o json` entry.
func fromJournal(m map[string]any) alertRecord {
	out := alertRecord{}
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			continue // binary fields arrive as arrays of bytes
		}
		switch {
		case strings.HasPrefix(k, "CONFINE_"):
			out[strings.ToLower(strings.TrimPrefix(k, "CONFINE_"))] = s
		case k == "MESSAGE", k == "PRIORITY", k == "MESSAGE_ID":
			out[strings.ToLower(k)] = s
		case k == "__REALTIME_TIMESTAMP":
			if us, err := strconv.ParseInt(s, 10, 64); err == nil {
				out["journal_time"] = time.UnixMicro(us).UTC().Format(time.RFC3339Nano)
			}
		}
	}
	return out
}

func (a alertRecord) time() time.Time {
	for _, k := range []string{"time", "journal_time"} {
		if t, err := time.Parse(time.RFC3339Nano, a.str(k)); err == nil {
			return t
		}
	}
	return time.Time{}
}

func alerts(e *env, args []string) error {
	fs := e.flags("alerts", "[--since DURATION] [--follow] [--container ID] [--rule RULE] [--source journald|FILE]")
	since := fs.Duration("since", 0, "only alerts newer than this (e.g. 1h); 0 means all")
	follow := fs.Bool("follow", false, "keep printing new alerts")
	container := fs.String("container", "", "only this container ID")
	rule := fs.String("rule", "", "only this rule: exec, file, network, privilege, seccomp")
	source := fs.String("source", "", "journald, or a jsonl file (default: journald when it is a configured sink, else the first jsonl sink)")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	src := *source
	if src == "" {
		cfg, err := e.config()
		if err != nil {
			return err
		}
		for _, s := range cfg.AlertSinks {
			if s == "journald" {
				src = "journald"
				break
			}
			if strings.HasPrefix(s, "jsonl:") && src == "" {
				src = strings.TrimPrefix(s, "jsonl:")
			}
		}
		if src == "" {
			return fmt.Errorf("no readable alert sink configured (alert_sinks has neither journald nor jsonl:FILE); use --source")
		}
	}
	keep := func(a alertRecord) bool {
		if *container != "" && a.str("container_id") != *container {
			return false
		}
		if *rule != "" && a.str("rule") != *rule {
			return false
		}
		if *since > 0 {
			if t := a.time(); !t.IsZero() && time.Since(t) > *since {
				return false
			}
		}
		return true
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var t *table
	if !e.json {
		t = newTable(e.stdout, "TIME", "CONTAINER", "PROFILE", "RULE", "ACTION", "SUBJECT", "MESSAGE")
	}
	n := 0
	emit := func(a alertRecord) error {
		if !keep(a) {
			return nil
		}
		n++
		if e.json {
			b, err := json.Marshal(a)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(e.stdout, "%s\n", b)
			return err
		}
		ts := a.time()
		when := ""
		if !ts.IsZero() {
			when = ts.Local().Format("2006-01-02 15:04:05")
		}
		subject := a.str("exe")
		for _, k := range []string{"path", "peer", "syscall"} {
			if v := a.str(k); v != "" {
				subject = v
			}
		}
		ct := a.str("container_id")
		if ns := a.str("namespace"); ns != "" && ct != "" {
			ct = ns + "/" + ct
		}
		action := a.str("action")
		if c := a.str("count"); c != "" {
			action += " x" + c
		}
		t.row(when, ct, a.str("profile"), a.str("rule"), action, subject, a.str("message"))
		if *follow {
			return t.flush()
		}
		return nil
	}
	var err error
	if src == "journald" {
		err = readJournal(ctx, *since, *follow, emit)
	} else {
		err = readJSONL(ctx, src, *follow, e.stderr, emit)
	}
	if t != nil {
		if ferr := t.flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func readJournal(ctx context.Context, since time.Duration, follow bool, emit func(alertRecord) error) error {
	args := []string{"-o", "json", "--no-pager", "SYSLOG_IDENTIFIER=confined"}
	if since > 0 {
		args = append(args, "--since", "-"+strconv.Itoa(int(since.Seconds()))+"s")
	}
	if follow {
		args = append(args, "--follow")
	}
	cmd := exec.CommandContext(ctx, "journalctl", args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("reading journald (journalctl): %w", err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		a := fromJournal(m)
		if a.str("event") == "" {
			continue // confined's own log lines, not alerts
		}
		if err := emit(a); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return err
		}
	}
	if err := cmd.Wait(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("journalctl: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

func readJSONL(ctx context.Context, path string, follow bool, warn io.Writer, emit func(alertRecord) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reading alerts: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	line := 0
	var partial []byte
	for {
		b, err := r.ReadBytes('\n')
		partial = append(partial, b...)
		if err == io.EOF {
			if !follow {
				return nil
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
		line++
		var a alertRecord
		if jerr := json.Unmarshal(partial, &a); jerr != nil {
			fmt.Fprintf(warn, "warning: %s:%d: not an alert: %v\n", path, line, jerr)
		} else if err := emit(a); err != nil {
			return err
		}
		partial = partial[:0]
	}
}
