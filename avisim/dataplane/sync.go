package dataplane

import (
	"slices"
)

// sync rebuilds the data plane from the store: listeners open, close or
// switch to the new configuration; health checks start and stop; state of
// objects that are gone is dropped.
func (d *DataPlane) sync() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	var b *build
	d.store.View(func(v View) { b = d.compile(v) })
	d.applyCheckers(b)
	d.applyListeners(b)
	d.gc(b)
	d.built = b
	d.syncs.Add(1)
}

type wantCheck struct {
	hm   *monitorConf
	addr string
	st   *serverState
}

// applyCheckers runs one check per monitor and enabled server of every
// enabled pool an enabled virtual service uses; the controller does not
// monitor anything else.
func (d *DataPlane) applyCheckers(b *build) {
	want := map[ckey]wantCheck{}
	for _, p := range b.active {
		if !p.enabled {
			continue
		}
		for _, s := range p.servers {
			if !s.enabled {
				continue
			}
			for _, hm := range p.monitors {
				if s.port == 0 && hm.port == 0 {
					s.st.setResult(hm.uuid, false, "use_service_port needs a monitor_port on "+hm.name)
					continue
				}
				want[ckey{p.uuid, s.key, hm.uuid}] = wantCheck{hm, s.addr(0), s.st}
			}
		}
	}
	for k, c := range d.checkers {
		w, ok := want[k]
		if ok && w.hm.sig+"|"+w.addr == c.sig && w.st == c.st {
			continue
		}
		c.stop()
		delete(d.checkers, k)
		if !ok {
			// A server nobody monitors any more is not known to be up.
			c.st.setResult(k.monitor, false, "not monitored")
		}
	}
	for k, w := range want {
		if d.checkers[k] == nil {
			d.checkers[k] = d.startChecker(k, w.hm, w.addr, w.st)
		}
	}
}

func (d *DataPlane) applyListeners(b *build) {
	for k, l := range d.listeners {
		spec := b.specs[k]
		if spec == nil || spec.mode != l.mode {
			l.close()
			delete(d.listeners, k)
			d.logf("avisim dataplane: %s stopped (%s)", k, l.addr)
			continue
		}
		l.cur.Store(spec)
	}
	keys := make([]lkey, 0, len(b.specs))
	for k := range b.specs {
		if d.listeners[k] == nil {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(x, y lkey) int {
		if c := compareAddr(x.ip, y.ip); c != 0 {
			return c
		}
		return x.port - y.port
	})
	for _, k := range keys {
		spec := b.specs[k]
		l, bindErr, err := d.openListener(spec)
		if err != nil {
			b.problem("%s (virtual service %s): cannot listen: %v", k, spec.vs.name, err)
			continue
		}
		if bindErr != nil {
			l.note = "binding " + k.String() + ": " + bindErr.Error() + "; served on " + l.addr + " instead"
		}
		d.listeners[k] = l
		if l.direct {
			d.lastPort[k] = portUse{vs: spec.vs.uuid}
		} else {
			d.lastPort[k] = portUse{port: l.port(), vs: spec.vs.uuid}
		}
		d.logf("avisim dataplane: %s (%s, virtual service %s) serving on %s", k, l.mode, spec.vs.name, l.addr)
	}
}

// gc drops what belonged to objects that are gone, so state stays bounded
// by what the controller holds.
func (d *DataPlane) gc(b *build) {
	removed := 0
	for u, st := range d.pools {
		if b.pools[u] == nil && b.groups[u] == nil {
			delete(d.pools, u)
			removed += len(st.servers)
		}
	}
	for _, p := range b.pools {
		if p == nil {
			continue
		}
		keep := map[string]bool{}
		for _, s := range p.servers {
			keep[s.key] = true
		}
		removed += p.st.retain(keep)
	}
	for u := range d.vsStats {
		if b.all[u] == nil {
			delete(d.vsStats, u)
		}
	}
	for u := range d.certs {
		if !b.certSeen[u] {
			delete(d.certs, u)
		}
	}
	for k, pu := range d.lastPort {
		if b.all[pu.vs] == nil {
			delete(d.lastPort, k)
		}
	}
	if removed > 0 {
		// Idle keep-alive connections to servers that left their pools.
		d.proxy.CloseIdleConnections()
	}
}
