package bpfevents

// The BPF object is generated with Debian's clang (package clang, plus
// libbpf-dev for the helper headers) and committed, so building confine
// needs no clang. `make generate` reruns this; `make check-generated`
// fails when the committed files differ from a rebuild.
//go:generate go tool bpf2go -cc clang -target bpfel -type event -type watched events bpf/events.c -- -O2 -g -Wall -Werror -mcpu=v3 -I/usr/include/x86_64-linux-gnu -I/usr/include/aarch64-linux-gnu
