package main

import (
	"fmt"
	"io"
	"os"
	"time"
)

// stepClock times the demo's steps, so a user sees where the time goes: each
// step heading (step) starts one, and the next heading or the end closes it
// with ✓ or ✗ and how long it took. summary lists them all with the total.
type stepClock struct {
	out   io.Writer
	now   func() time.Time
	began time.Time
	steps []timedStep
	open  bool
}

type timedStep struct {
	title  string
	start  time.Time
	took   time.Duration
	failed bool
}

// clock is the demo's one clock, started when the program starts.
var clock = newStepClock(os.Stdout, time.Now)

func newStepClock(out io.Writer, now func() time.Time) *stepClock {
	return &stepClock{out: out, now: now, began: now()}
}

// begin closes the running step and starts the next one.
func (c *stepClock) begin(title string) {
	c.end()
	c.steps = append(c.steps, timedStep{title: title, start: c.now()})
	c.open = true
}

// fail marks the running step as not having behaved as expected.
func (c *stepClock) fail() {
	if c.open {
		c.steps[len(c.steps)-1].failed = true
	}
}

// end closes the running step, if any, and prints its mark and duration.
func (c *stepClock) end() {
	if !c.open {
		return
	}
	s := &c.steps[len(c.steps)-1]
	s.took = c.now().Sub(s.start)
	c.open = false
	// No step number: the walkthrough's headings carry their own ("3. An Ingress ...").
	if s.failed {
		fmt.Fprintf(c.out, "    ✗ %s, not as expected\n", round(s.took))
	} else {
		fmt.Fprintf(c.out, "    ✓ %s\n", round(s.took))
	}
}

// summary closes the running step and prints every step's time and the total.
func (c *stepClock) summary() {
	c.end()
	fmt.Fprintf(c.out, "\nStep times:\n")
	for _, s := range c.steps {
		title := []rune(s.title)
		if len(title) > 72 {
			title = append(title[:71], '…')
		}
		fmt.Fprintf(c.out, "  %s %7s  %s\n", mark(s.failed), round(s.took), string(title))
	}
	fmt.Fprintf(c.out, "  total %s\n", round(c.now().Sub(c.began)))
}

func mark(failed bool) string {
	if failed {
		return "✗"
	}
	return "✓"
}

// round keeps durations readable: 0.3s, 12.4s, 2m5s.
func round(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	default:
		return d.Round(time.Second).String()
	}
}
