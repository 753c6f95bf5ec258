// Command testbed-image writes the testbed's busybox image (an OCI layout tar
// named localhost/busybox:confine) or its root filesystem tar, for
// scripts/testbed.sh and for humans.
//
//	go run ./internal/testbed/cmd/testbed-image -o busybox.tar
//	go run ./internal/testbed/cmd/testbed-image -rootfs -o rootfs.tar   # docker import
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/confinehq/confine/internal/testbed"
)

func main() {
	out := flag.String("o", "", "output file (required)")
	rootfs := flag.Bool("rootfs", false, "write the plain root filesystem tar instead of the OCI image")
	busybox := flag.String("busybox", testbed.BusyboxPath(), "static busybox binary to build from")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: testbed-image [-rootfs] [-busybox PATH] -o FILE")
		os.Exit(2)
	}
	if err := write(*out, *busybox, *rootfs); err != nil {
		fmt.Fprintf(os.Stderr, "testbed-image: %v\n", err)
		os.Exit(1)
	}
}

func write(path, busybox string, rootfs bool) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".testbed-image-*")
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	build := testbed.WriteImage
	if rootfs {
		build = testbed.WriteRootfs
	}
	if err := build(f, busybox); err != nil {
		f.Close()
		return err
	}
	if err := closeSynced(f); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func closeSynced(f *os.File) error {
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
