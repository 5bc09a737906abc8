package session

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// filter runs the stderr filter over input and returns what it let through.
func filter(t *testing.T, input string) string {
	t.Helper()
	var out bytes.Buffer
	newStderrFilter(&out, filterQueueBytes).run(strings.NewReader(input))
	return out.String()
}

func TestStderrFilterKeepsAndDrops(t *testing.T) {
	const (
		sdkInfo  = "I1121 05:59:15.711564   12088 avisession.go:865] Req for GET uri https://x/api/vsvip tenant admin RespCode 200\n"
		sdkDump  = "I1121 05:59:15.711570   12088 avisession.go:1192] POST /login HTTP/1.1\r\nHost: 127.0.0.1:8443\r\nContent-Length: 0\r\n\r\n\n\n"
		sdkError = "E1121 05:59:15.711580   12088 avisession.go:477] response error: Rest request error, returning to caller \n"
		sdkWarn  = "W1121 05:59:15.711590   12088 avisession.go:443] Strict certificate verification is *DISABLED*\n"
		sdkHost  = "E1121 05:59:52.812458   13048 avisession.go:1653] Controller Host is not valid.\n"
		klogInfo = "I1201 10:00:00.000001       1 leaderelection.go:257] attempting to acquire leader lease vipgate-system/vipgate-demo...\n"
		klogErr  = "E1201 10:00:00.000002       1 leaderelection.go:436] error retrieving resource lock vipgate-system/vipgate-demo: Get \"https://10.96.0.1:443/\":\n  dial tcp 10.96.0.1:443: connect: connection refused\n"
		zapLine  = `{"level":"info","ts":"2025-01-01T00:00:00Z","msg":"synced"}` + "\n"
		plain    = "vipgate: something printed directly\n"
	)
	for _, tc := range []struct {
		name, in, want string
	}{
		{"alb-sdk INFO is dropped", sdkInfo, ""},
		{"alb-sdk request dump is dropped with its continuation lines", sdkDump + klogInfo, klogInfo},
		{"alb-sdk ERROR is kept", sdkError, sdkError},
		{"alb-sdk WARNING is kept", sdkWarn, sdkWarn},
		{"alb-sdk host warning is dropped", sdkHost, ""},
		{"klog INFO (leader election) is kept", klogInfo, klogInfo},
		{"klog ERROR with a continuation line is kept whole", klogErr, klogErr},
		{"structured log lines are kept", zapLine, zapLine},
		{"plain lines are kept", plain, plain},
		{"a mix keeps its order", plain + sdkInfo + klogInfo + sdkDump + sdkError + zapLine + sdkHost + klogErr,
			plain + klogInfo + sdkError + zapLine + klogErr},
		{"a last line without newline is kept", sdkInfo + klogInfo + "tail", klogInfo + "tail"},
		// The price of dropping multi-line dumps: a headerless line right
		// after an alb-sdk INFO record counts as part of it. Only glog and klog
		// write to the filtered stderr once it is set up (zap, the log
		// package and panics write to the real one).
		{"a headerless line after alb-sdk INFO continues it", sdkInfo + plain, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := filter(t, tc.in); got != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

// A line of any length neither stops the filter nor loses what follows.
func TestStderrFilterLongLines(t *testing.T) {
	long := strings.Repeat("x", 2<<20)
	after := "I1201 10:00:00.000001       1 leaderelection.go:257] still here\nplain line\n"
	for _, tc := range []struct {
		name, in, want string
	}{
		{"a 2 MiB line passes whole, in pieces", "E1201 10:00:00.000001 1 main.go:1] " + long + "\n" + after,
			"E1201 10:00:00.000001 1 main.go:1] " + long + "\n" + after},
		{"a 2 MiB line without header passes", long + "\n" + after, long + "\n" + after},
		{"a 2 MiB alb-sdk INFO line is dropped whole", "I1121 05:59:15.711564   12088 avisession.go:865] " + long + "\n" + after, after},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := filter(t, tc.in)
			if got != tc.want {
				t.Errorf("got %d bytes ending %q, want %d bytes ending %q", len(got), tail(got), len(tc.want), tail(tc.want))
			}
		})
	}
}

func tail(s string) string { return s[max(0, len(s)-80):] }

// blockingWriter stands for a stderr nobody reads: Write waits until release.
type blockingWriter struct {
	release chan struct{}
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	<-b.release
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Writers finish even when the real stderr takes nothing: what does not fit
// the queue is dropped and counted, and a note says so once stderr moves again.
func TestStderrFilterNeverBlocksWriters(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &blockingWriter{release: make(chan struct{})}
	f := newStderrFilter(out, 64<<10)
	ran := make(chan struct{})
	go func() { f.run(r); close(ran) }()

	const writers, lines = 8, 2000
	line := "E1201 10:00:00.000001       1 worker.go:1] " + strings.Repeat("y", 100) + "\n"
	var wg sync.WaitGroup
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < lines; j++ {
				if _, err := w.WriteString(line); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(2 * time.Minute): // a hang, not a speed limit
		t.Fatal("writers are blocked by a stalled stderr")
	}
	w.Close()
	// Stalled output: the first write is held, the queue full, the rest dropped.
	total := int64(writers * lines * len(line))
	if d := f.droppedBytes(); d <= 0 || d >= total {
		t.Fatalf("dropped %d of %d bytes; want some but not all", d, total)
	}
	close(out.release)
	<-ran
	got := out.buf.String()
	note := regexp.MustCompile(`(?m)^vipgate: (\d+) bytes of log output dropped: stderr was not taking it fast enough$`)
	if !note.MatchString(got) {
		t.Fatalf("no note of the dropped output in %d bytes of output", len(got))
	}
	kept := strings.Count(got, line)
	if kept == 0 || int64(kept*len(line))+f.droppedBytes() != total {
		t.Fatalf("kept %d lines (%d bytes) + dropped %d bytes != %d written", kept, kept*len(line), f.droppedBytes(), total)
	}
	if rest := note.ReplaceAllString(strings.ReplaceAll(got, line, ""), ""); strings.Trim(rest, "\n") != "" {
		t.Fatalf("output has broken lines: %q", tail(rest))
	}
}
