package hooks

import (
	"path/filepath"

	"github.com/confinehq/confine/internal/api"
)

// DefaultNamespace is assumed when neither the bundle path nor runc's root
// names a containerd namespace (runc run by hand).
const DefaultNamespace = "default"

// Where Namespace found the namespace.
const (
	NamespaceFromBundle  = "bundle"
	NamespaceFromRoot    = "root"
	NamespaceFromDefault = "default"
)

// NamespaceOfBundle returns the containerd namespace a bundle directory
// belongs to. containerd's shim keeps bundles at
// <state>/io.containerd.runtime.v2.task/<namespace>/<id>, Docker's too
// (namespace moby), so the namespace is the parent directory's name when
// the bundle's own name is the container id.
func NamespaceOfBundle(bundle, id string) (string, bool) {
	bundle = filepath.Clean(bundle)
	if id == "" || filepath.Base(bundle) != id {
		return "", false
	}
	ns := filepath.Base(filepath.Dir(bundle))
	if !api.ValidNamespace(ns) {
		return "", false
	}
	return ns, true
}

// NamespaceOfRoot returns the namespace named by runc's --root:
// containerd passes /run/containerd/runc/<namespace> and dockerd
// <exec-root>/runtime-runc/<namespace>. Other roots (runc's default
// /run/runc) name no namespace.
func NamespaceOfRoot(root string) (string, bool) {
	if root == "" {
		return "", false
	}
	root = filepath.Clean(root)
	switch filepath.Base(filepath.Dir(root)) {
	case "runc", "runtime-runc":
	default:
		return "", false
	}
	ns := filepath.Base(root)
	if !api.ValidNamespace(ns) {
		return "", false
	}
	return ns, true
}

// Namespace returns the container's namespace and where it was found: the
// bundle path first, then runc's root, else DefaultNamespace.
func Namespace(bundle, id, root string) (ns, source string) {
	if ns, ok := NamespaceOfBundle(bundle, id); ok {
		return ns, NamespaceFromBundle
	}
	if ns, ok := NamespaceOfRoot(root); ok {
		return ns, NamespaceFromRoot
	}
	return DefaultNamespace, NamespaceFromDefault
}

// AnnotationRuncRoot is the annotation confine-runc gives every container
// it injects: runc's --root (absolute), part of the container's identity.
// The same id under two roots is two containers.
const AnnotationRuncRoot = "confine.runc.root"

// QualifyingRoot returns root when it must be part of a container's
// identity next to namespace and id, and "" when the namespace already
// says it: containerd's and dockerd's roots name their namespace
// (NamespaceOfRoot), one root per namespace.
func QualifyingRoot(ns, root string) string {
	if root == "" {
		return ""
	}
	if rns, ok := NamespaceOfRoot(root); ok && rns == ns {
		return ""
	}
	return filepath.Clean(root)
}
