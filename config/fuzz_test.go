package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// FuzzParse feeds arbitrary documents to the settings loader. It never
// panics and is deterministic; every problem it reports names the key it is
// about (a start-up failure must say which line of values.yaml to fix), and
// settings it accepts survive a round trip: marshalled to YAML and parsed
// again they are the same settings.
func FuzzParse(f *testing.F) {
	sections := map[string]bool{}
	for i := 0; i < reflect.TypeOf(Settings{}).NumField(); i++ {
		sections[strings.Split(reflect.TypeOf(Settings{}).Field(i).Tag.Get("json"), ",")[0]] = true
	}
	namesKey := func(msg string) bool {
		for sec := range sections {
			if strings.HasPrefix(msg, sec+".") || strings.HasPrefix(msg, sec+"[") || strings.HasPrefix(msg, sec+":") {
				return true
			}
		}
		return strings.HasSuffix(msg, ": unknown key")
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		defer fuzzWatchdog(fmt.Sprintf("%q", data))()
		s, err := Parse(data)
		s2, err2 := Parse(data)
		if !reflect.DeepEqual(s, s2) || (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("Parse not deterministic: %v %v / %v %v", s, err, s2, err2)
		}
		if err != nil {
			if s != nil {
				t.Fatalf("Parse returned settings with error %v", err)
			}
			var verrs ValidationErrors
			if errors.As(err, &verrs) {
				if len(verrs) == 0 {
					t.Fatal("empty ValidationErrors")
				}
				for _, v := range verrs {
					if !namesKey(v) {
						t.Fatalf("problem %q does not name its key (input %q)", v, data)
					}
				}
				return
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "settings: ") {
				t.Fatalf("error %q is neither ValidationErrors nor a settings: error", msg)
			}
			// A document that is YAML of a map but has a value of the wrong
			// type for a key must say which key.
			var m map[string]any
			if yaml.Unmarshal(data, &m) == nil && !strings.Contains(msg, "Go struct field") {
				t.Fatalf("error %q names no key (input %q)", msg, data)
			}
			return
		}
		out, err := yaml.Marshal(s)
		if err != nil {
			t.Fatalf("marshalling accepted settings: %v", err)
		}
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("accepted settings do not parse again: %v\ninput: %q\nmarshalled: %s", err, data, out)
		}
		if !reflect.DeepEqual(s, back) {
			t.Fatalf("round trip changed the settings:\n%+v\n%+v\ninput: %q\nmarshalled: %s", *s, *back, data, out)
		}
	})
}

// TestParseBadBooleanNamesKey is the regression test of a FuzzParse find:
// a boolean key with a value that is none was reported without its key
// ("must be true or false, got 5"), by the decoder that never knew it.
func TestParseBadBooleanNamesKey(t *testing.T) {
	_, err := Parse([]byte(`
AKOSettings: {clusterName: demo, enableEvents: 5, deleteConfig: 'yes please', layer7Only: null}
L7Settings: {defaultIngController: "True "}
NetworkSettings: {enableRHI: [true]}
ControllerSettings: {controllerHost: 10.0.0.1}
`))
	want := ValidationErrors{
		"AKOSettings.deleteConfig: must be true or false, got \"yes please\"",
		"AKOSettings.enableEvents: must be true or false, got 5",
		"L7Settings.defaultIngController: must be true or false, got \"True \"",
		"NetworkSettings.enableRHI: must be true or false, got [true]",
	}
	if !reflect.DeepEqual(err, want) {
		t.Fatalf("Parse error:\n%v\nwant:\n%v", err, want)
	}
}

// fuzzHangAfter bounds one fuzz input. Go's fuzzing engine has no per-input
// timeout: a hang would only show as executions stopping. Past the bound
// the process panics, and the engine records the input as a crasher.
const fuzzHangAfter = time.Minute

// fuzzWatchdog arms the hang bound for one input; call the result when done.
func fuzzWatchdog(input string) (stop func() bool) {
	return time.AfterFunc(fuzzHangAfter, func() {
		panic(fmt.Sprintf("fuzz input still running after %v, a hang: %s", fuzzHangAfter, input))
	}).Stop
}
