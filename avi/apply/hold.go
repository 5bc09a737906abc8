package apply

import (
	"strings"

	"github.com/vipgate/vipgate/avi/model"
)

// holdFields returns body with the fields a held rule controls (see
// model.Set.Held) taken from the controller's current object: a field the
// current object has is sent back as it is, one it lacks is left out. The
// comparison then sees no change there, so a rule rejected after it was
// applied leaves its settings in place instead of being undone half-way.
// model.HeldSSLPorts keeps each port's enable_ssl by port number, so the
// ports themselves still follow the Service.
func holdFields(body, cur map[string]any, fields []string) map[string]any {
	if len(fields) == 0 || cur == nil {
		return body
	}
	out := clone(body)
	for _, f := range fields {
		if f == model.HeldSSLPorts {
			holdSSLPorts(out, cur)
			continue
		}
		if strings.Contains(f, "[") {
			continue
		}
		if v, ok := cur[f]; ok && !isEmpty(v) {
			out[f] = v
		} else {
			delete(out, f)
		}
	}
	return out
}

// holdSSLPorts copies enable_ssl of each current service to the desired
// service on the same port.
func holdSSLPorts(body, cur map[string]any) {
	ssl := map[float64]any{}
	cs, _ := cur["services"].([]any)
	for _, c := range cs {
		if m, ok := c.(map[string]any); ok {
			if p, ok := m["port"].(float64); ok {
				ssl[p] = m["enable_ssl"]
			}
		}
	}
	ds, _ := body["services"].([]any)
	for _, d := range ds {
		m, ok := d.(map[string]any)
		if !ok {
			continue
		}
		p, _ := m["port"].(float64)
		if v, ok := ssl[p]; ok && v != nil {
			m["enable_ssl"] = v
		} else {
			delete(m, "enable_ssl")
		}
	}
}
