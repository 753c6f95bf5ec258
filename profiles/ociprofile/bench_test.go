package ociprofile

import (
	"context"
	"sync"
	"testing"

	"github.com/confinehq/confine/internal/testbed"
)

// benchSetup pushes one signed profile to a fresh registry.
func benchSetup(b *testing.B) (*testbed.Registry, Ref, Policy, func() *Client) {
	reg := testbed.StartRegistry(b)
	dir := b.TempDir()
	signKey, pubKey := testbed.SigningKeys(b, dir, "team")
	newClient := func() *Client {
		c, err := NewClient(Options{AuthFile: reg.AuthFile, CAFiles: []string{reg.CAFile}})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	signer, err := LoadSigner(signKey)
	if err != nil {
		b.Fatal(err)
	}
	keys, err := LoadVerifiers([]string{pubKey})
	if err != nil {
		b.Fatal(err)
	}
	ref, err := ParseRef(reg.Ref("team/web:prod"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := newClient().Push(context.Background(), ref, Artifact{Name: "web", Profile: []byte(profileYAML)}, signer); err != nil {
		b.Fatal(err)
	}
	return reg, ref, Policy{Keys: keys, Require: true}, newClient
}

// BenchmarkPoll is one unchanged poll (a HEAD of the tag) by a warm client.
func BenchmarkPoll(b *testing.B) {
	_, ref, _, newClient := benchSetup(b)
	c := newClient()
	ctx := context.Background()
	if _, err := c.Resolve(ctx, ref); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Resolve(ctx, ref); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPull is a changed poll: manifest, signature, payload, profile
// blob, verification.
func BenchmarkPull(b *testing.B) {
	_, ref, pol, newClient := benchSetup(b)
	c := newClient()
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Pull(ctx, ref, pol); err != nil {
			b.Fatal(err)
		}
	}
}

// Benchmark100Pollers: 100 hosts (a client each, warm) poll at the same
// moment; one op is the whole round.
func Benchmark100Pollers(b *testing.B) {
	_, ref, _, newClient := benchSetup(b)
	ctx := context.Background()
	cs := make([]*Client, 100)
	for i := range cs {
		cs[i] = newClient()
		if _, err := cs[i].Resolve(ctx, ref); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		errs := make(chan error, len(cs))
		for _, c := range cs {
			wg.Add(1)
			go func(c *Client) {
				defer wg.Done()
				if _, err := c.Resolve(ctx, ref); err != nil {
					errs <- err
				}
			}(c)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	}
}
