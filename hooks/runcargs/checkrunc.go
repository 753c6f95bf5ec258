package runcargs

import (
	"errors"
	"fmt"
	"os"
)

// CheckRunc makes sure the real runc exists, is executable and is not the
// running wrapper itself (self returns its binary), which would exec
// itself forever.
func CheckRunc(path string, self func() (string, error)) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("real runc (runc_path) %s: %v", path, unwrapPath(err))
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("real runc (runc_path) %s: not an executable file", path)
	}
	if p, err := self(); err == nil {
		if me, err := os.Stat(p); err == nil && os.SameFile(me, st) {
			return fmt.Errorf("real runc (runc_path) %s is confine-runc itself: refusing to exec in a loop", path)
		}
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
