package avisim

import (
	"net/http"

	"github.com/vipgate/vipgate/avisim/dataplane"
)

// DataPlane returns the simulated Service Engine serving the virtual
// services' VIPs, or nil when Options.DataPlane was not set.
func (s *Sim) DataPlane() *dataplane.DataPlane { return s.dp }

// serveDataPlane serves /admin/dataplane.
func (s *Sim) serveDataPlane(w http.ResponseWriter, r *http.Request) {
	if s.dp == nil {
		writeErr(w, errf(http.StatusNotFound, "The data plane is off (set Options.DataPlane, or run avisim with --dataplane)"))
		return
	}
	s.dp.ServeHTTP(w, r)
}

// storeView lets the data plane read the store and follow its writes.
type storeView struct{ st *store }

func (v storeView) View(fn func(dataplane.View)) {
	v.st.mu.RLock()
	defer v.st.mu.RUnlock()
	fn(readView(v))
}

func (v storeView) Watch() (<-chan struct{}, func()) { return v.st.watch() }

// readView is the store under its read lock.
type readView struct{ st *store }

func (v readView) Get(uuid string) (string, any) {
	o := v.st.all[uuid]
	if o == nil {
		return "", nil
	}
	return o.kind.name, o.model
}

func (v readView) Each(kind string, fn func(uuid string, model any)) {
	for _, tables := range v.st.tenants {
		if t := tables[kind]; t != nil {
			for u, o := range t.byUUID {
				fn(u, o.model)
			}
		}
	}
}

func (v readView) TenantOf(uuid string) string {
	if o := v.st.all[uuid]; o != nil {
		return o.tenant
	}
	return ""
}
