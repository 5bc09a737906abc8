package apply

import "testing"

// TestSettleKeepsAWriteMadeWhileItRead: settle read an unsure VsVip by name
// and found nothing, but a create of another reconcile succeeded and was
// recorded while it read; the read is older than that answer and must not
// remove it. A new unknown outcome during the read keeps the object unsure.
func TestSettleKeepsAWriteMadeWhileItRead(t *testing.T) {
	k := mkey{"admin", "vsvip", "c1--ns-web"}
	tests := []struct {
		name       string
		during     func(m *mirror)
		wantObj    bool
		wantUnsure bool
	}{
		{"nothing meanwhile: the read's nothing is kept", func(*mirror) {}, false, false},
		{"a create recorded meanwhile", func(m *mirror) {
			if err := m.put(k.tenant, k.typ, map[string]any{"name": k.name, "uuid": "vsvip-1"}); err != nil {
				t.Fatal(err)
			}
		}, true, false},
		{"a new unknown outcome meanwhile", func(m *mirror) { m.markUnsure(k) }, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &mirror{objs: map[mkey]*entry{}}
			m.markUnsure(k)
			u := m.unsure[k]
			u.written = false // settle begins to read
			tt.during(m)
			m.settle(k, u, nil, false) // the read found nothing
			if got := m.objs[k] != nil; got != tt.wantObj {
				t.Errorf("mirrored = %v, want %v", got, tt.wantObj)
			}
			if got := m.unsure[k] != nil; got != tt.wantUnsure {
				t.Errorf("unsure = %v, want %v", got, tt.wantUnsure)
			}
		})
	}
}
