// confinectl is the operator CLI of confine. See `confinectl help`.
package main

import (
	"os"

	"github.com/confinehq/confine/internal/ctl"
)

func main() {
	os.Exit(ctl.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
