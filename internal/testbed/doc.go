// Package testbed gives tests (and Go programs such as demos and benchmarks) a
// private containerd to run real containers against:
//
//   - a deterministic busybox OCI image built from the host's busybox-static
//     ([Image], [BuildImage], [WriteImage]),
//   - a private containerd with its own config, root, state and socket
//     ([Start] for tests, [StartDaemon] otherwise) that imports that image,
//   - helpers to run containers through the Go client ([Containerd.Run],
//     [Containerd.Start]) or through ctr ([Containerd.Ctr]),
//   - [RequiresRoot] and [RequireTools], which skip in a plain `go test` and fail
//     with an install hint under `make test` (CONFINE_REQUIRE_ROOT=1).
//
// Several containerds on one host share runc's state directory
// (/run/containerd/runc/<namespace>), so container IDs must be unique per run:
// use [UniqueID].
package testbed
