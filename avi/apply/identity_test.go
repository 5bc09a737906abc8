package apply

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/vipgate/vipgate/avi/model"
)

// TestMirrorLeavesOutIdentity: the mirror keeps an object's identity
// markers and created_by field out of its body only where it can put them
// back exactly, so the object it returns is the one the controller answered,
// whatever the markers look like.
func TestMirrorLeavesOutIdentity(t *testing.T) {
	marker := func(k string, vs ...any) map[string]any { return map[string]any{"key": k, "values": vs} }
	own := []any{marker(model.MarkerCreatedBy, "vipgate-c1"), marker(model.MarkerClusterName, "c1"),
		marker(model.MarkerClusterID, "cid-1"), marker(model.MarkerOwner, "Service/ns/web")}
	ako := marker("Namespace", "ns")
	list := func(ms ...any) []any { return ms }
	tests := []struct {
		name string
		obj  map[string]any
		want ownFields
	}{
		{"vipgate's markers, then AKO's", map[string]any{"created_by": "vipgate-c1", "markers": list(own[0], own[1], own[2], own[3], ako)}, ownCreatedBy | 4},
		{"only vipgate's markers", map[string]any{"markers": list(own...)}, 4},
		{"no cluster ID", map[string]any{"created_by": "vipgate-c1", "markers": list(own[0], own[1], own[3])}, ownCreatedBy | 3},
		{"a prefix of them", map[string]any{"markers": list(own[0], own[1], ako)}, 2},
		{"another order", map[string]any{"markers": list(own[1], own[0], own[2], own[3])}, 0},
		{"a second value", map[string]any{"markers": list(marker(model.MarkerCreatedBy, "vipgate-c1", "x"), own[1])}, 0},
		{"a field more", map[string]any{"markers": list(map[string]any{"key": model.MarkerCreatedBy, "values": []any{"vipgate-c1"}, "x": true})}, 0},
		{"a marker that differs from the field", map[string]any{"created_by": "vipgate-c1", "markers": list(marker(model.MarkerCreatedBy, "ako-c1"))}, ownCreatedBy},
		{"AKO's object", map[string]any{"created_by": "ako-c1", "markers": list(marker(model.MarkerCreatedBy, "ako-c1"), own[1])}, ownCreatedBy | 2},
		{"no markers", map[string]any{"created_by": "vipgate-c1"}, ownCreatedBy},
		{"markers not a list", map[string]any{"markers": "x"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// As the controller answers: decoded JSON, with the object's name and UUID.
			obj := map[string]any{"name": "c1--ns-web-TCP-80", "uuid": "pool-1", "servers": []any{map[string]any{"port": 80}}}
			for k, v := range tt.obj {
				obj[k] = v
			}
			data, err := json.Marshal(obj)
			if err != nil {
				t.Fatal(err)
			}
			var answered map[string]any
			if err := json.Unmarshal(data, &answered); err != nil {
				t.Fatal(err)
			}
			var m mirror
			e, err := m.newEntry(model.TypePool, answered)
			if err != nil {
				t.Fatal(err)
			}
			if e.own != tt.want {
				t.Errorf("left out %#x, want %#x", e.own, tt.want)
			}
			var again map[string]any
			if err := json.Unmarshal(data, &again); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(answered, again) {
				t.Errorf("newEntry changed the object it was given: %v", answered)
			}
			c, err := m.current(mkey{"admin", model.TypePool, "c1--ns-web-TCP-80"}, e)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.raw, again) {
				t.Errorf("mirror returns\n%v\nwant\n%v", c.raw, again)
			}
		})
	}
}
