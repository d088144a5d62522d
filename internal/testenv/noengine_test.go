package testenv

import (
	"errors"
	"strings"
	"testing"
)

func TestNoEngine(t *testing.T) {
	down := errors.New("Cannot connect to the Docker daemon")
	tests := []struct {
		name string
		err  error
		ci   string
		want verdict
	}{
		{name: "engine answers", err: nil, ci: "true", want: proceed},
		{name: "no engine on a developer machine", err: down, ci: "", want: skip},
		{name: "no engine in CI", err: down, ci: "true", want: fail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, msg := noEngine(tt.err, RedisURLEnv, tt.ci)
			if got != tt.want {
				t.Errorf("noEngine(%v, CI=%q) = %v, want %v", tt.err, tt.ci, got, tt.want)
			}
			if got != proceed && (!strings.Contains(msg, RedisURLEnv) || !strings.Contains(msg, down.Error())) {
				t.Errorf("noEngine() message %q does not say why or what to set", msg)
			}
		})
	}
}
