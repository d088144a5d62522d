// Package sample is what TestRead records.
package sample

import "io"

// Mode is a documented type.
type Mode int

// Modes, documented as a group.
const (
	ModeA Mode = iota
	ModeB
	modeHidden
)

const Undocumented = "x"

// Reader reads.
type Reader interface {
	Read(p []byte) (n int, err error)
}

// Two has two methods, one documented.
type Two interface {
	// A is documented.
	A() error
	B(int, string) bool
}

// Config has fields.
type Config struct {
	Name   string // documented on its line
	Size   int
	hidden int
	io.Writer
}

// New is documented.
func New(name string, size, n int) (*Config, error) { return nil, nil }

// Method is documented.
func (c *Config) Method(r io.Reader) {}

// Close names its one result, which is no part of its API.
func (c *Config) Close() (err error) { return nil }

func (c Config) Undocumented() int { return c.hidden }

func (m mode) Hidden() {}

type mode int

// Alias is an alias.
type Alias = Config

// ErrX is a variable.
var ErrX = io.EOF

// Set is generic.
type Set[T comparable] struct {
	// Hook is a function-typed field.
	Hook func(name string, n int) (ok bool)
}

// Map is generic.
func Map[T, U any](in []T, f func(v T) U) []U { return nil }

// ErrHidden is a constant of an unexported type, whose methods users get.
const ErrHidden hiddenError = "hidden"

type hiddenError string

func (e hiddenError) Error() string { return string(e) }
