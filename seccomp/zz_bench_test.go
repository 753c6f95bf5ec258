package seccomp

import "testing"

func BenchmarkImportOld(b *testing.B) {
	data := readTestdata(b, "moby-default-old-format.json")
	for i := 0; i < b.N; i++ {
		ImportDocker(data, "x", "x", "amd64")
	}
}
func BenchmarkImportDefault(b *testing.B) {
	data := readTestdata(b, "moby-default.json")
	for i := 0; i < b.N; i++ {
		ImportDocker(data, "x", "x", "amd64")
	}
}
