// Command memfd-exec runs a program from an anonymous memory file, the way
// fileless malware does: it copies PROGRAM into a memfd named NAME and
// executes the memfd, so the kernel shows the process's executable as
// "/memfd:NAME (deleted)". The hostile-container tests put it in a container
// (busybox cannot do this). Built static (CGO_ENABLED=0), it runs in any image.
//
//	memfd-exec NAME PROGRAM [ARG...]   # ARG... becomes argv, argv[0] included
package main

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: memfd-exec NAME PROGRAM [ARG...]")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2], os.Args[3:]); err != nil {
		fmt.Fprintln(os.Stderr, "memfd-exec:", err)
		os.Exit(1)
	}
}

func run(name, program string, argv []string) error {
	code, err := os.ReadFile(program)
	if err != nil {
		return err
	}
	fd, err := unix.MemfdCreate(name, 0)
	if err != nil {
		return fmt.Errorf("memfd_create: %w", err)
	}
	for b := code; len(b) > 0; {
		n, err := unix.Write(fd, b)
		if err != nil {
			return fmt.Errorf("writing the memfd: %w", err)
		}
		b = b[n:]
	}
	if len(argv) == 0 {
		argv = []string{name}
	}
	path := "/proc/self/fd/" + strconv.Itoa(fd)
	if err := unix.Exec(path, argv, os.Environ()); err != nil {
		return fmt.Errorf("executing %s: %w", path, err)
	}
	return nil
}
