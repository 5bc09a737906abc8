package apply

import "github.com/vipgate/vipgate/avi/model"

// ownFields says what of an object's identity its mirrored body leaves out:
// its created_by field (ownCreatedBy) and how many of its leading markers
// (the low bits: 0 to 4), which are then identityMarkers of its identity.
// Every object vipgate writes starts its markers with those (model.Markers),
// and they were a third of a mirrored Service object's bytes; the entry's
// interned identity already holds their values.
type ownFields uint8

const (
	ownMarkersMask ownFields = 0x07
	ownCreatedBy   ownFields = 0x08
)

// identityMarkers are the markers model.Markers puts first on an object of
// identity id, in its order and as the controller returns them.
func identityMarkers(id identity) [][2]string {
	out := [][2]string{{model.MarkerCreatedBy, id.createdBy}, {model.MarkerClusterName, id.clusterName}}
	if id.clusterID != "" {
		out = append(out, [2]string{model.MarkerClusterID, id.clusterID})
	}
	return append(out, [2]string{model.MarkerOwner, id.owner})
}

// stripIdentity removes from obj what restoreIdentity puts back exactly
// from id: its created_by field when it equals id's, and the longest run of
// leading markers that are identityMarkers(id) one for one, each exactly
// {"key": k, "values": [v]}. Anything else (another order, a second value,
// a field more) stays in the body, so the mirror still returns the object
// as the controller answered it.
func stripIdentity(obj map[string]any, id identity) ownFields {
	var own ownFields
	if s, ok := obj["created_by"].(string); ok && s == id.createdBy {
		delete(obj, "created_by")
		own |= ownCreatedBy
	}
	ms, ok := obj["markers"].([]any)
	if !ok {
		return own
	}
	n := 0
	for _, want := range identityMarkers(id) {
		if n == len(ms) || !isMarker(ms[n], want[0], want[1]) {
			break
		}
		n++
	}
	if n > 0 {
		// A new slice: obj's list may be shared with the caller's object.
		obj["markers"] = append([]any{}, ms[n:]...)
	}
	return own | ownFields(n)
}

// isMarker reports whether m is exactly {"key": key, "values": [value]}.
func isMarker(m any, key, value string) bool {
	mm, ok := m.(map[string]any)
	if !ok || len(mm) != 2 {
		return false
	}
	k, _ := mm["key"].(string)
	vs, _ := mm["values"].([]any)
	if k != key || len(vs) != 1 {
		return false
	}
	v, ok := vs[0].(string)
	return ok && v == value
}

// restoreIdentity puts back into obj what stripIdentity took out.
func restoreIdentity(obj map[string]any, id identity, own ownFields) {
	if own&ownCreatedBy != 0 {
		obj["created_by"] = id.createdBy
	}
	n := int(own & ownMarkersMask)
	if n == 0 {
		return
	}
	rest, _ := obj["markers"].([]any)
	ms := make([]any, 0, n+len(rest))
	for _, m := range identityMarkers(id)[:n] {
		ms = append(ms, map[string]any{"key": m[0], "values": []any{m[1]}})
	}
	obj["markers"] = append(ms, rest...)
}
