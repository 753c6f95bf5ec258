package wrapper

import "github.com/confinehq/confine/hooks/runcargs"

// OverlayFunc and Overlay live in hooks/runcargs, which the lean
// confine-runc links (hooks/front).
type OverlayFunc = runcargs.OverlayFunc

// Overlay mounts the private copy over config.json in runc's own mount
// namespace (runcargs.Overlay).
var Overlay = runcargs.Overlay
