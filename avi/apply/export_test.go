package apply

import "slices"

// L7Slots is the applier's bound on L7 shards applied at once, for tests
// that hold its slots.
func (a *Applier) L7Slots() chan struct{} { return a.l7 }

// OnReloadRead sets a function Reload calls after its reads, before the swap.
func (a *Applier) OnReloadRead(fn func()) { a.reloadHook = fn }

// NamedUUIDs lists the UUIDs the applier keeps a name for.
func (a *Applier) NamedUUIDs() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]string, 0, len(a.names))
	for u := range a.names {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}
