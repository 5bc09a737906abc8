package main

import "testing"

func TestSoftMemoryLimit(t *testing.T) {
	const mi = 1 << 20
	tests := []struct {
		name        string
		limit, want int64
	}{
		{"the chart's default: the reserve is more than a tenth", 512 * mi, 448 * mi},
		{"a large limit: a tenth", 2048 * mi, 2048*mi - 2048*mi/10},
		{"a tenth and the reserve meet", 640 * mi, 576 * mi},
		{"a small limit: never below half", 96 * mi, 48 * mi},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := softMemoryLimit(tt.limit); got != tt.want {
				t.Errorf("softMemoryLimit(%d MiB) = %d MiB, want %d MiB", tt.limit/mi, got/mi, tt.want/mi)
			}
		})
	}
}

func TestApplyMemoryLimit(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    int64
		wantErr string
	}{
		{"the container's limit", map[string]string{memoryLimitEnv: "536870912"}, 448 << 20, ""},
		{"GOMEMLIMIT wins", map[string]string{memoryLimitEnv: "536870912", "GOMEMLIMIT": "300MiB"}, 0, ""},
		{"no limit given", map[string]string{}, 0, ""},
		{"not bytes", map[string]string{memoryLimitEnv: "512Mi"}, 0, `VIPGATE_MEMORY_LIMIT="512Mi" is not a number of bytes; the Go runtime keeps no memory limit`},
		{"zero", map[string]string{memoryLimitEnv: "0"}, 0, `VIPGATE_MEMORY_LIMIT="0" is not a number of bytes; the Go runtime keeps no memory limit`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var set int64
			got, err := applyMemoryLimit(func(k string) string { return tt.env[k] }, func(v int64) int64 { set = v; return 0 })
			if msg := errString(err); msg != tt.wantErr {
				t.Fatalf("error %q, want %q", msg, tt.wantErr)
			}
			if got != tt.want || set != tt.want {
				t.Errorf("returned %d and set %d, want %d", got, set, tt.want)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
