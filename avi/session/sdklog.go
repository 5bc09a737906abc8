package session

import (
	"bufio"
	"os"
	"regexp"
	"sync"
)

// glogInfoLine matches glog's INFO prefix, e.g. "I1121 05:59:15.711564   12088 avisession.go:865]".
var glogInfoLine = regexp.MustCompile(`^I\d{4} \d{2}:\d{2}:\d{2}\.\d{6} +\d+ [^ ]+:\d+\] `)

// hostWarning is logged by alb-sdk for every session whose host has a port; it is harmless.
var hostWarning = regexp.MustCompile(`^E\d{4} [^]]+\] Controller Host is not valid\.$`)

var silenceOnce sync.Once

// SilenceSDKInfoLogs drops alb-sdk's per-request INFO lines from stderr while
// passing everything else through. alb-sdk logs through an old glog that cannot
// be configured to skip INFO when writing to stderr (and writing files would
// fail on a read-only root filesystem), and vipgate logs one structured line
// per decision itself. Call it after the structured logger captured stderr.
func SilenceSDKInfoLogs() {
	silenceOnce.Do(func() {
		r, w, err := os.Pipe()
		if err != nil {
			return
		}
		real := os.Stderr
		os.Stderr = w
		go func() {
			sc := bufio.NewScanner(r)
			sc.Buffer(make([]byte, 64*1024), 1<<20)
			for sc.Scan() {
				line := sc.Bytes()
				if glogInfoLine.Match(line) || hostWarning.Match(line) {
					continue
				}
				_, _ = real.Write(append(line, '\n'))
			}
		}()
	})
}
