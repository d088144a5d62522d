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
		// A Redis Cluster comes from containers only: its message names
		// no variable to set.
		for _, urlEnv := range []string{RedisURLEnv, ""} {
			name := tt.name + "/" + urlEnv
			if urlEnv == "" {
				name = tt.name + "/containers only"
			}
			t.Run(name, func(t *testing.T) {
				got, msg := noEngine(tt.err, urlEnv, tt.ci)
				if got != tt.want {
					t.Errorf("noEngine(%v, %q, CI=%q) = %v, want %v", tt.err, urlEnv, tt.ci, got, tt.want)
				}
				if got == proceed {
					return
				}
				if !strings.Contains(msg, down.Error()) || !strings.Contains(msg, "start Docker") && got == skip {
					t.Errorf("noEngine() message %q does not say why or what to do", msg)
				}
				if mentions := strings.Contains(msg, RedisURLEnv); mentions != (urlEnv != "") {
					t.Errorf("noEngine(%q) message %q mentions %s = %v, want %v", urlEnv, msg, RedisURLEnv, mentions, urlEnv != "")
				}
			})
		}
	}
}
