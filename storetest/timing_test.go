package storetest

import "testing"

func TestParseTimeScale(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    float64
		wantErr bool
	}{
		{name: "unset", in: "", want: 1},
		{name: "integer", in: "3", want: 3},
		{name: "fraction", in: "1.5", want: 1.5},
		{name: "largest", in: "100", want: 100},
		{name: "faster", in: "0.5", want: 1, wantErr: true},
		{name: "zero", in: "0", want: 1, wantErr: true},
		{name: "too slow", in: "101", want: 1, wantErr: true},
		{name: "not a number", in: "slow", want: 1, wantErr: true},
		{name: "NaN", in: "NaN", want: 1, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTimeScale(tt.in)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("parseTimeScale(%q) = %v, %v, want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
