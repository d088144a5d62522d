//go:build ignore

package sample

// Ignored is excluded from every build.
func Ignored() {}
