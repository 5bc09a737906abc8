package inventory

import (
	"net/url"
	"strings"
	"unique"

	"github.com/vipgate/vipgate/avi/objects"
)

// Source hands out the latest controller snapshot (nil before the first
// load). The loader's cache implements it; tests pass fixed snapshots.
type Source interface {
	Snapshot() *Snapshot
}

// Static range types usable for VIPs. A range without a type defaults to
// STATIC_IPS_FOR_VIP_AND_SE on the controller.
const (
	RangeVIP      = "STATIC_IPS_FOR_VIP"
	RangeVIPAndSE = "STATIC_IPS_FOR_VIP_AND_SE"
)

// MarkerValue returns the first value of the marker with key, or "".
func MarkerValue(ms []*objects.RoleFilterMatchLabel, key string) string {
	for _, m := range ms {
		if m != nil && m.Key != nil && *m.Key == key && len(m.Values) > 0 {
			return m.Values[0]
		}
	}
	return ""
}

// RefUUID extracts the UUID from a controller reference
// ("https://host/api/network/network-1234#name" → "network-1234"); a bare UUID is returned as is.
func RefUUID(ref string) string {
	ref, _, _ = strings.Cut(ref, "#")
	ref, _, _ = strings.Cut(ref, "?")
	ref = strings.TrimSuffix(ref, "/")
	if i := strings.LastIndexByte(ref, '/'); i >= 0 {
		return ref[i+1:]
	}
	return ref
}

// RefName extracts the name from a reference: the "#name" suffix the controller
// adds with include_name, or "?name=" of a by-name reference; "" when absent.
func RefName(ref string) string {
	if _, n, ok := strings.Cut(ref, "#"); ok {
		return n
	}
	if _, q, ok := strings.Cut(ref, "?"); ok {
		if v, err := url.ParseQuery(q); err == nil {
			return v.Get("name")
		}
	}
	return ""
}

// Intern returns the one shared copy of s. Values that thousands of
// objects repeat (a tenant, a created_by, a cluster's markers) are held
// once, and a name cut out of a longer string (RefName of a reference)
// stops holding that whole string.
func Intern(s string) string {
	if s == "" {
		return ""
	}
	return unique.Make(s).Value()
}
