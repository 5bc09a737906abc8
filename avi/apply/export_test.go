package apply

// L7Slots is the applier's bound on L7 shards applied at once, for tests
// that hold its slots.
func (a *Applier) L7Slots() chan struct{} { return a.l7 }
