package session

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sync"
)

// glogHeader matches the header of a glog or klog record (both use one
// format), e.g. "I1121 05:59:15.711564   12088 avisession.go:865] ", capturing
// the severity and the source file.
var glogHeader = regexp.MustCompile(`^([IWEF])\d{4} \d{2}:\d{2}:\d{2}\.\d{6} +\d+ ([^ :\]]+):\d+\] `)

// sdkFiles are alb-sdk's source files that log (through glog).
var sdkFiles = map[string]bool{"avisession.go": true}

// hostWarning is logged by alb-sdk for every session whose host has a port; it is harmless.
var hostWarning = regexp.MustCompile(`^E\d{4} [^]]+\] Controller Host is not valid\.$`)

// dropSDKRecord says whether a line starting a glog/klog record is one of
// alb-sdk's that vipgate drops: its INFO records (one or more per request,
// and dumps of failed requests) and the harmless host warning. Its WARNING,
// ERROR and FATAL records are kept: they are rare (a failed call), and say in
// alb-sdk's words what failed, which helps when vipgate's own summary of the
// error does not. Records of every other file (klog's leader election, client-go) are kept.
func dropSDKRecord(line []byte) (header, drop bool) {
	m := glogHeader.FindSubmatch(line)
	if m == nil {
		return false, false
	}
	if !sdkFiles[string(m[2])] {
		return true, false
	}
	return true, m[1][0] == 'I' || hostWarning.Match(bytes.TrimRight(line, "\r\n"))
}

const (
	// filterLineBuffer bounds the part of a line the filter holds: a longer
	// line goes through in pieces of this size (or is dropped whole when it
	// is an alb-sdk INFO record, judged by its first piece).
	filterLineBuffer = 64 << 10
	// filterQueueBytes bounds the output waiting for stderr. Past it, output
	// is dropped and counted rather than blocking the program's writers.
	filterQueueBytes = 4 << 20
)

// stderrFilter copies what the program writes to stderr to the real stderr,
// leaving out alb-sdk's noise. Its reader never waits for the output: what
// the output cannot take yet waits in a bounded queue, and what does not fit
// there is dropped and counted (a note says how much), so that a slow or
// stuck stderr never blocks a goroutine that logs, such as one holding a
// controller session.
type stderrFilter struct {
	out      io.Writer
	maxQueue int

	mu      sync.Mutex
	queue   [][]byte
	queued  int   // bytes queued or being written
	lost    int64 // bytes dropped since the last note
	dropped int64 // bytes dropped in all
	closed  bool
	wake    chan struct{}
	done    chan struct{}
}

func newStderrFilter(out io.Writer, maxQueue int) *stderrFilter {
	f := &stderrFilter{out: out, maxQueue: maxQueue, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go f.write()
	return f
}

// run filters r until it ends, then waits until the output took what is queued.
func (f *stderrFilter) run(r io.Reader) {
	br := bufio.NewReaderSize(r, filterLineBuffer)
	atStart := true // the next piece starts a line
	drop := false   // the current record is dropped
	for {
		piece, err := br.ReadSlice('\n')
		if len(piece) > 0 {
			if atStart {
				if header, d := dropSDKRecord(piece); header {
					drop = d
				}
				// A line without a header continues the record before it
				// (alb-sdk's request dumps span lines) and shares its fate.
			}
			if !drop {
				f.enqueue(piece)
			}
			atStart = piece[len(piece)-1] == '\n'
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			break
		}
	}
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.signal()
	<-f.done
}

// enqueue copies p into the queue, or counts it as dropped when the queue is full.
func (f *stderrFilter) enqueue(p []byte) {
	f.mu.Lock()
	if f.queued+len(p) > f.maxQueue {
		f.lost += int64(len(p))
		f.dropped += int64(len(p))
		f.mu.Unlock()
		return
	}
	f.queue = append(f.queue, bytes.Clone(p))
	f.queued += len(p)
	f.mu.Unlock()
	f.signal()
}

func (f *stderrFilter) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// write drains the queue into the output; it is the only goroutine that
// waits for the output.
func (f *stderrFilter) write() {
	defer close(f.done)
	for {
		f.mu.Lock()
		batch, lost, closed := f.queue, f.lost, f.closed
		f.queue, f.lost = nil, 0
		f.mu.Unlock()
		n := 0
		for _, p := range batch {
			_, _ = f.out.Write(p)
			n += len(p)
		}
		f.mu.Lock()
		f.queued -= n
		f.mu.Unlock()
		if lost > 0 {
			_, _ = fmt.Fprintf(f.out, "vipgate: %d bytes of log output dropped: stderr was not taking it fast enough\n", lost)
		}
		if closed && len(batch) == 0 && lost == 0 {
			return
		}
		if len(batch) == 0 && lost == 0 {
			<-f.wake
		}
	}
}

// droppedBytes is the output dropped so far because the queue was full.
func (f *stderrFilter) droppedBytes() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dropped
}

var silenceOnce sync.Once

// SilenceSDKInfoLogs drops alb-sdk's per-request INFO records from stderr
// while passing everything else through (klog's records among them). alb-sdk
// logs through an old glog that cannot be configured to skip INFO when
// writing to stderr (and writing files would fail on a read-only root
// filesystem), and vipgate logs one structured line per decision itself.
// Call it after the structured logger captured stderr: os.Stderr becomes a
// pipe read by the filter, which never blocks its writers.
func SilenceSDKInfoLogs() {
	silenceOnce.Do(func() {
		r, w, err := os.Pipe()
		if err != nil {
			return
		}
		f := newStderrFilter(os.Stderr, filterQueueBytes)
		os.Stderr = w
		go f.run(r)
	})
}
