package apply

// L7Slots is the applier's bound on L7 shards applied at once, for tests
// that hold its slots.
func (a *Applier) L7Slots() chan struct{} { return a.l7 }

// OnReloadRead sets a function Reload calls after its reads, before the swap.
func (a *Applier) OnReloadRead(fn func()) { a.reloadHook = fn }
