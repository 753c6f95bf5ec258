// Command openloop is the in-container workload of the fanotify guard's
// benchmark: a static binary that times opens and execs with a monotonic
// clock (busybox's date has no %N). It prints one line: "open NS exec NS",
// the mean cost of one open+close and of one fork+exec+wait in nanoseconds.
//
// With -exec-trick ALLOWED,LOADER,TARGET it instead tries to run TARGET
// through the ELF interpreter LOADER in the same thread right after an exec
// of the allowed dynamic binary ALLOWED failed (E2BIG, after the kernel
// opened it): the guard must not take LOADER for ALLOWED's interpreter.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

func main() {
	dir := flag.String("dir", "/tmp/openloop", "directory of the files to open (created if missing)")
	files := flag.Int("files", 1000, "files in dir")
	rounds := flag.Int("rounds", 5, "times each file is opened")
	execs := flag.Int("execs", 50, "execs of -exe")
	exe := flag.String("exe", "/bin/busybox", "program to exec (with argument \"true\")")
	trick := flag.String("exec-trick", "", "ALLOWED,LOADER,TARGET: see the package documentation")
	flag.Parse()
	if *trick != "" {
		execTrick(strings.Split(*trick, ","))
	}

	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fail(err)
	}
	names := make([]string, *files)
	for i := range names {
		names[i] = filepath.Join(*dir, fmt.Sprintf("f%05d", i))
		if _, err := os.Stat(names[i]); err != nil {
			if err := os.WriteFile(names[i], []byte("x\n"), 0o644); err != nil {
				fail(err)
			}
		}
	}
	start := time.Now()
	for r := 0; r < *rounds; r++ {
		for _, n := range names {
			f, err := os.Open(n)
			if err != nil {
				fail(err)
			}
			f.Close()
		}
	}
	openNS := time.Since(start).Nanoseconds() / int64(*rounds**files)

	var execNS int64
	if *execs > 0 {
		start = time.Now()
		for i := 0; i < *execs; i++ {
			if err := exec.Command(*exe, "true").Run(); err != nil {
				fail(err)
			}
		}
		execNS = time.Since(start).Nanoseconds() / int64(*execs)
	}
	fmt.Printf("open %d exec %d\n", openNS, execNS)
}

func execTrick(args []string) {
	if len(args) != 3 {
		fail(fmt.Errorf("-exec-trick wants ALLOWED,LOADER,TARGET"))
	}
	runtime.LockOSThread()
	huge := strings.Repeat("a", 200<<10) // above MAX_ARG_STRLEN (128 KiB)
	err := syscall.Exec(args[0], []string{args[0], huge}, os.Environ())
	fmt.Fprintf(os.Stderr, "first exec: %v\n", err)
	err = syscall.Exec(args[1], []string{args[1], args[2], "pwned"}, os.Environ())
	fmt.Fprintf(os.Stderr, "second exec: %v\n", err)
	os.Exit(3)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "openloop:", err)
	os.Exit(1)
}
