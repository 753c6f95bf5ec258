package api

import "os"

func uidSelf() uint32 { return uint32(os.Getuid()) }
