package loader

import (
	"testing"
	"time"
)

// TestFoldPause: writes are batched for foldDelay while a fold is cheap,
// and for foldShare times the last fold once copying the snapshot costs more.
func TestFoldPause(t *testing.T) {
	for _, tc := range []struct{ last, want time.Duration }{
		{0, foldDelay},
		{time.Millisecond, foldDelay},
		{foldDelay / foldShare, foldDelay},
		{4 * time.Millisecond, 80 * time.Millisecond},
		{20 * time.Millisecond, 400 * time.Millisecond},
	} {
		if got := foldPause(tc.last); got != tc.want {
			t.Errorf("foldPause(%s) = %s, want %s", tc.last, got, tc.want)
		}
	}
}
