package apply

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// TestCodecRoundTrip: what the codec stores decodes to exactly what
// encoding/json gave it.
func TestCodecRoundTrip(t *testing.T) {
	tests := []struct{ name, json string }{
		{"empty", `{}`},
		{"scalars", `{"a":null,"b":true,"c":false,"d":"x","e":""}`},
		{"numbers", `{"zero":0,"neg0":-0,"int":8080,"neg":-3,"big":9007199254740991,"huge":9007199254740993,"frac":0.5,"exp":1e300,"tiny":-2.5e-300}`},
		{"nesting", `{"l":[],"m":{},"ll":[[1,[2]],{"x":[{"y":null}]}],"s":[1,"a",true,null]}`},
		{"a pool", `{"cloud_ref":"https://10.0.0.1:443/api/cloud/cloud-1#Default-Cloud","created_by":"vipgate-c1",` +
			`"markers":[{"key":"created_by","values":["vipgate-c1"]},{"key":"Namespace","values":["ns"]}],"name":"c1--ns-web-TCP-80",` +
			`"servers":[{"ip":{"addr":"10.1.0.1","type":"V4"},"port":8080}],"uuid":"pool-1",` +
			`"health_monitor_refs":["https://10.0.0.1:443/api/healthmonitor/healthmonitor-1#System-TCP"],` +
			`"vrf_ref":"/api/vrfcontext/vrfcontext-1","pool_group_ref":"https://10.0.0.1:443/api/poolgroup/pg-1#x"}`},
		{"unicode and escapes", `{"n":"caf\u00e9 \"q\" \\ \n","key":"\u65e5\u672c"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want map[string]any
			if err := json.Unmarshal([]byte(tt.json), &want); err != nil {
				t.Fatal(err)
			}
			var c codec
			b, err := c.encode(want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("decoded %#v, want %#v", got, want)
			}
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			if string(gj) != string(wj) {
				t.Errorf("decoded %s, want %s", gj, wj)
			}
		})
	}
}

// TestCodecSharesOnlySharedStrings: field names, marker keys and references
// to the controller's shared objects are stored once for all objects;
// names, UUIDs and the "<uuid>#<name>" of references to this cluster's
// objects are each object's own, so the table does not grow as objects come
// and go.
func TestCodecSharesOnlySharedStrings(t *testing.T) {
	var c codec
	var sizes []int
	for i := range 100 {
		obj := map[string]any{
			"name": fmt.Sprintf("c1--ns-web-%d", i), "uuid": fmt.Sprintf("virtualservice-%d", i),
			"cloud_ref":           "https://10.0.0.1/api/cloud/cloud-1#Default-Cloud",
			"se_group_ref":        "https://10.0.0.1/api/serviceenginegroup/serviceenginegroup-1#Default-Group",
			"vsvip_ref":           fmt.Sprintf("https://10.0.0.1/api/vsvip/vsvip-%d#c1--ns-web-%d", i, i),
			"markers":             []any{map[string]any{"key": "Namespace", "values": []any{fmt.Sprintf("ns-%d", i)}}},
			"services":            []any{map[string]any{"port": float64(80 + i)}},
			"service_pool_select": []any{map[string]any{"service_pool_ref": fmt.Sprintf("https://10.0.0.1/api/pool/pool-%d#p%d", i, i)}},
		}
		b, err := c.encode(obj)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(b))
	}
	want := []string{"name", "uuid", "cloud_ref", "https://10.0.0.1/api/cloud/cloud-1#Default-Cloud", "se_group_ref",
		"https://10.0.0.1/api/serviceenginegroup/serviceenginegroup-1#Default-Group", "vsvip_ref", "markers", "key", "Namespace",
		"values", "services", "port", "service_pool_select", "service_pool_ref", "https://10.0.0.1/api/vsvip/", "https://10.0.0.1/api/pool/"}
	if len(c.str) != len(want) {
		t.Errorf("shared table holds %d strings after 100 objects, want %d: %q", len(c.str), len(want), c.str)
	}
	for _, s := range want {
		if _, ok := c.ids[s]; !ok {
			t.Errorf("%q is not in the shared table", s)
		}
	}
	// A certificate's private key is its own, never shared.
	if _, err := c.encode(map[string]any{"name": "cert", "key": strings.Repeat("k", 65)}); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.ids[strings.Repeat("k", 65)]; ok {
		t.Error("a private key went into the shared table")
	}
	// Object 0's own strings, then at most two bytes per key (13) and per value (22).
	own := len("c1--ns-web-0") + len("virtualservice-0") + len("vsvip-0#c1--ns-web-0") + len("ns-0") + len("pool-0#p0")
	if limit := own + 2*13 + 2*22; sizes[0] > limit {
		t.Errorf("an object takes %d bytes, want at most %d (its own strings and a byte or two per key and value)", sizes[0], limit)
	}
}

func TestCodecRefusesCorruptData(t *testing.T) {
	var c codec
	good, err := c.encode(map[string]any{"a": []any{"x", 1.5}, "b": "https://h/api/cloud/c-1#C"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"not a map", []byte{tagTrue}},
		{"truncated", good[:len(good)-1]},
		{"trailing bytes", append(append([]byte{}, good...), tagNull)},
		{"unknown tag", []byte{0xff}},
		{"shared index out of range", []byte{tagMap, 1, 99, tagNull}},
		{"length past the end", []byte{tagMap, 1, 0, tagStr, 50, 'x'}},
	} {
		if _, err := c.decode(tt.b); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: decode error %v, want errCorrupt", tt.name, err)
		}
	}
}

// TestCodecConcurrent: applies of different owners store and read objects
// at once (run with -race).
func TestCodecConcurrent(t *testing.T) {
	var c codec
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				want := map[string]any{"name": fmt.Sprintf("o-%d-%d", g, i), fmt.Sprintf("field-%d", i%7): "https://h/api/cloud/cloud-1#C"}
				b, err := c.encode(want)
				if err != nil {
					t.Error(err)
					return
				}
				got, err := c.decode(b)
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Errorf("decoded %v, %v; want %v", got, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}
