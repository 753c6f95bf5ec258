package hooks

import "testing"

func TestNamespace(t *testing.T) {
	tests := []struct {
		name, bundle, id, root string
		wantNS, wantSource     string
	}{
		{name: "containerd bundle", bundle: "/run/containerd/io.containerd.runtime.v2.task/default/c1", id: "c1", root: "/run/containerd/runc/default", wantNS: "default", wantSource: NamespaceFromBundle},
		{name: "docker bundle", bundle: "/run/containerd/io.containerd.runtime.v2.task/moby/0123abcd", id: "0123abcd", root: "/var/run/docker/runtime-runc/moby", wantNS: "moby", wantSource: NamespaceFromBundle},
		{name: "bundle with trailing slash", bundle: "/run/containerd/io.containerd.runtime.v2.task/k8s.io/c1/", id: "c1", wantNS: "k8s.io", wantSource: NamespaceFromBundle},
		{name: "bundle not named after the id: containerd root", bundle: "/tmp/bundle", id: "c1", root: "/run/containerd/runc/team-a", wantNS: "team-a", wantSource: NamespaceFromRoot},
		{name: "docker root", bundle: "/elsewhere", id: "c1", root: "/var/run/docker/runtime-runc/moby", wantNS: "moby", wantSource: NamespaceFromRoot},
		{name: "runc's default root names no namespace", bundle: "/tmp/b", id: "c1", root: "/run/runc", wantNS: DefaultNamespace, wantSource: NamespaceFromDefault},
		{name: "nothing", bundle: "/", id: "c1", wantNS: DefaultNamespace, wantSource: NamespaceFromDefault},
		{name: "invalid namespace name in bundle", bundle: "/x/-bad/c1", id: "c1", wantNS: DefaultNamespace, wantSource: NamespaceFromDefault},
		{name: "id empty", bundle: "/x/ns/c1", id: "", wantNS: DefaultNamespace, wantSource: NamespaceFromDefault},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns, src := Namespace(tt.bundle, tt.id, tt.root)
			if ns != tt.wantNS || src != tt.wantSource {
				t.Errorf("Namespace(%q, %q, %q) = %q, %q; want %q, %q", tt.bundle, tt.id, tt.root, ns, src, tt.wantNS, tt.wantSource)
			}
		})
	}
}
