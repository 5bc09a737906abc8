package apply

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unique"

	"github.com/go-logr/logr"
	"golang.org/x/sync/errgroup"

	"github.com/vipgate/vipgate/avi"
	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/avi/objects"
	"github.com/vipgate/vipgate/avi/session"
)

// The mirror holds the objects this cluster wrote (its created_by), as the
// controller last returned them: read in collection pages when the applier
// first needs a tenant, then kept current by the applier's own writes (the
// controller answers every POST and PUT with the object). Applies diff
// against it, so creating or updating an owner sends its writes without a
// GET first, and a restart in sync costs the collection pages and nothing
// per object. It is a cache, not truth: it is read again every Resync, and
// when it is wrong the controller's answer settles it (a create of a name
// that exists is a 409, which reads that object; an update of one that is
// gone is a 404, which creates it).
//
// Objects keep the top-level fields vipgate's own types (avi/objects) know,
// which is every field a diff looks at, in the codec's compact form
// (codec.go), next to the few fields the applier reads without decoding.
type mirror struct {
	mu    sync.RWMutex
	objs  map[mkey]*entry
	codec codec
	// loaded lists the tenants read; "*" when read across every tenant.
	loaded map[string]bool
	// unsure lists objects whose create has an unknown outcome (a timeout,
	// a 5xx: the controller may have created it and the answer was lost).
	// Each is read again by name before the mirror is next used, so an
	// object created without vipgate seeing the answer is not missed by a
	// later delete. (An update or delete with a lost answer leaves the
	// object in the mirror, so the next apply or delete sends it again.)
	unsure map[mkey]*unsureMark
	// During a reload, writes go to dirty too and win over what the reload read.
	reloading bool
	dirty     map[mkey]*entry // nil entry: deleted

	// pools index the pools by name stem and by owner marker, so an L4
	// apply finds its owner's pools without walking every mirrored object
	// (which made a burst of n Services cost n² steps). Kept by setObj and
	// delObj, rebuilt by install.
	pools poolIndex

	// forget, when set (Applier.forget), is told the UUID of every object
	// that leaves the mirror or is replaced by one with another UUID.
	forget func(uuid string)

	loadMu sync.Mutex
}

// poolIndex lists the mirrored pools' names by tenant and stem (the base
// name model.IsPoolOf matches) and by tenant and owner marker. Slices, not
// sets: an owner has a pool or two per port, and a map per stem cost more
// than the pools' own entries.
type poolIndex struct {
	byStem  map[[2]string][]string
	byOwner map[[3]string][]string
}

// poolStem is the base name a port pool's name extends ("<base>-TCP-80"),
// ok false when name is not a port pool's: model.IsPoolOf(base, name)
// exactly when poolStem(name) is (base, true), since the suffix holds one
// dash.
func poolStem(name string) (string, bool) {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return "", false
	}
	j := strings.LastIndexByte(name[:i], '-')
	if j < 0 || !model.IsPoolOf(name[:j], name) {
		return "", false
	}
	return name[:j], true
}

func (x *poolIndex) add(k mkey, e *entry) {
	if k.typ != model.TypePool {
		return
	}
	if stem, ok := poolStem(k.name); ok {
		if x.byStem == nil {
			x.byStem = map[[2]string][]string{}
		}
		sk := [2]string{k.tenant, stem}
		x.byStem[sk] = append(x.byStem[sk], k.name)
	}
	if id := e.id.Value(); id.owner != "" {
		if x.byOwner == nil {
			x.byOwner = map[[3]string][]string{}
		}
		ok := [3]string{k.tenant, id.owner, id.clusterID}
		x.byOwner[ok] = append(x.byOwner[ok], k.name)
	}
}

func (x *poolIndex) drop(k mkey, e *entry) {
	if k.typ != model.TypePool || e == nil {
		return
	}
	without := func(names []string) []string {
		return slices.DeleteFunc(names, func(n string) bool { return n == k.name })
	}
	if stem, ok := poolStem(k.name); ok {
		sk := [2]string{k.tenant, stem}
		if names := without(x.byStem[sk]); len(names) > 0 {
			x.byStem[sk] = names
		} else {
			delete(x.byStem, sk)
		}
	}
	if id := e.id.Value(); id.owner != "" {
		ok := [3]string{k.tenant, id.owner, id.clusterID}
		if names := without(x.byOwner[ok]); len(names) > 0 {
			x.byOwner[ok] = names
		} else {
			delete(x.byOwner, ok)
		}
	}
}

// setObj records e at k, keeping the pool index; m.mu is held.
func (m *mirror) setObj(k mkey, e *entry) {
	m.pools.drop(k, m.objs[k])
	m.gone(m.objs[k], e)
	m.objs[k] = e
	m.pools.add(k, e)
}

// delObj forgets k, keeping the pool index; m.mu is held.
func (m *mirror) delObj(k mkey) {
	m.pools.drop(k, m.objs[k])
	m.gone(m.objs[k], nil)
	delete(m.objs, k)
}

// gone tells forget about old's UUID when now (nil: nothing) does not
// carry it on.
func (m *mirror) gone(old, now *entry) {
	if old == nil || old.uuid == "" || m.forget == nil || (now != nil && now.uuid == old.uuid) {
		return
	}
	m.forget(old.uuid)
}

// reindex rebuilds the pool index from m.objs; m.mu is held.
func (m *mirror) reindex() {
	m.pools = poolIndex{}
	for k, e := range m.objs {
		m.pools.add(k, e)
	}
}

// poolsOf lists the pools of tenant whose owner marker is owner of
// clusterID (when owner is not empty) or whose name is a port pool of one
// of bases: what readOwner used to find by scanning every object.
func (m *mirror) poolsOf(tenant, owner, clusterID string, bases []string) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []string
	add := func(names []string) {
		for _, n := range names {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	if owner != "" {
		add(m.pools.byOwner[[3]string{tenant, owner, clusterID}])
	}
	for _, b := range bases {
		add(m.pools.byStem[[2]string{tenant, b}])
	}
	return out
}

// mkey is an object's place: tenant, type and name.
type mkey struct{ tenant, typ, name string }

// entry is one mirrored object.
type entry struct {
	uuid string
	// id is the object's identity markers, interned: an owner's objects
	// share one, and thousands of owners the same creator and cluster.
	id    unique.Handle[identity]
	child bool
	// own says what of the identity the body leaves out (see stripIdentity).
	own ownFields
	// body is the object in the codec's form.
	body []byte
	// more is what only some objects have (nil otherwise): kept apart so
	// that an entry of the other objects, five in six, is 64 bytes, not 96.
	more *entryMore
}

// entryMore is what the mirror keeps of a virtual service and of AKO's objects.
type entryMore struct {
	// vsvip and parent are a virtual service's VsVip and VH parent UUIDs:
	// readL7 finds a shard's other virtual services and SNI children by them.
	vsvip, parent string
	// markers are AKO's markers by key, kept for AKO's objects only (orphan
	// collection reads them); nil otherwise.
	markers map[string]string
}

// vsvip is a virtual service's VsVip UUID ("" for other objects).
func (e *entry) vsvip() string {
	if e.more == nil {
		return ""
	}
	return e.more.vsvip
}

// parent is a virtual service's VH parent UUID ("" for other objects).
func (e *entry) parent() string {
	if e.more == nil {
		return ""
	}
	return e.more.parent
}

// markers are an AKO object's markers by key (nil for other objects).
func (e *entry) markers() map[string]string {
	if e.more == nil {
		return nil
	}
	return e.more.markers
}

// identity is who an object says it belongs to (see current).
type identity struct{ createdBy, clusterID, owner, clusterName string }

// dataScriptRefs is what the mirror keeps of an AKO datascript set: the
// pool groups and pools it refers to (adoption deletes them with it).
type dataScriptRefs struct {
	PoolGroupRefs []string `json:"pool_group_refs"`
	PoolRefs      []string `json:"pool_refs"`
}

// fieldsOf lists, per type, the top-level JSON names vipgate's types know.
var fieldsOf = func() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for typ, v := range map[string]any{
		model.TypeVsVip: objects.VsVip{}, model.TypeSSLKeyAndCertificate: objects.SSLKeyAndCertificate{},
		model.TypePool: objects.Pool{}, model.TypePoolGroup: objects.PoolGroup{}, model.TypeL4PolicySet: struct{}{},
		model.TypeVSDataScriptSet: dataScriptRefs{},
		model.TypeHTTPPolicySet:   objects.HTTPPolicySet{}, model.TypeVirtualService: objects.VirtualService{},
	} {
		fs := map[string]bool{"type": true, "tenant_ref": true}
		// References vipgate never writes but an adopted AKO virtual
		// service has: kept so the objects they reach are found and removed.
		if typ == model.TypeVirtualService {
			fs["vs_datascripts"], fs["l4_policies"] = true, true
		}
		t := reflect.TypeOf(v)
		for i := range t.NumField() {
			fs[strings.Split(t.Field(i).Tag.Get("json"), ",")[0]] = true
		}
		// Never compared (see writeOnly), and a private key, even as the
		// controller returns it, is not worth holding in memory.
		for _, f := range writeOnly[typ] {
			delete(fs, f)
		}
		out[typ] = fs
	}
	return out
}()

// newEntry projects a controller object onto what the mirror keeps.
func (m *mirror) newEntry(typ string, obj map[string]any) (*entry, error) {
	c := currentOf(typ, obj)
	keep := map[string]any{}
	for k, v := range obj {
		if fieldsOf[typ][k] {
			keep[k] = v
		}
	}
	// The name (the mirror's key) and UUID are kept once, outside the body.
	if c.name != "" {
		delete(keep, "name")
	}
	if c.uuid != "" {
		delete(keep, "uuid")
	}
	id := identity{c.createdBy, c.clusterID, c.owner, c.clusterName}
	own := stripIdentity(keep, id)
	body, err := m.codec.encode(keep)
	if err != nil {
		return nil, err
	}
	e := &entry{uuid: c.uuid, id: unique.Make(id), child: c.child, own: own, body: body}
	if typ == model.TypeVirtualService {
		e.more = &entryMore{vsvip: refUUID(obj, "vsvip_ref"), parent: refUUID(obj, "vh_parent_vs_ref")}
	}
	if c.createdBy != "" && strings.HasPrefix(c.createdBy, "ako-") || c.createdBy == "" && c.clusterName != "" {
		if e.more == nil {
			e.more = &entryMore{}
		}
		e.more.markers = map[string]string{}
		for _, k := range model.AKOMarkerKeys {
			if v := markerValues(obj, k); v != "" {
				e.more.markers[k] = v
			}
		}
	}
	return e, nil
}

// refUUID is the UUID in the reference obj holds under key ("" when none).
func refUUID(obj map[string]any, key string) string {
	s, _ := obj[key].(string)
	_, uuid, _, _ := parseRef(s)
	// A copy: the UUID is cut out of the reference, which the mirror
	// would otherwise keep whole (about 100 bytes per virtual service).
	return strings.Clone(uuid)
}

// current decodes a mirrored object for diffing.
func (m *mirror) current(k mkey, e *entry) (*current, error) {
	raw, err := m.codec.decode(e.body)
	if err != nil {
		return nil, fmt.Errorf("decoding mirrored %s %s: %w", k.typ, k.name, err)
	}
	if k.name != "" {
		raw["name"] = k.name
	}
	if e.uuid != "" {
		raw["uuid"] = e.uuid
	}
	id := e.id.Value()
	restoreIdentity(raw, id, e.own)
	return &current{typ: k.typ, name: k.name, uuid: e.uuid, createdBy: id.createdBy, clusterID: id.clusterID,
		owner: id.owner, clusterName: id.clusterName, child: e.child, raw: raw}, nil
}

// put records what the controller holds now for tenant.
func (m *mirror) put(tenant, typ string, obj map[string]any) error {
	e, err := m.newEntry(typ, obj)
	if err != nil {
		return err
	}
	name, _ := obj["name"].(string)
	k := mkey{inventory.Intern(tenant), typ, name}
	m.mu.Lock()
	m.setObj(k, e)
	if m.reloading {
		m.dirty[k] = e
	}
	m.noteWrite(k)
	m.mu.Unlock()
	return nil
}

// remove records that an object is gone.
func (m *mirror) remove(tenant, typ, name string) {
	k := mkey{tenant, typ, name}
	m.mu.Lock()
	m.delObj(k)
	if m.reloading {
		m.dirty[k] = nil
	}
	m.noteWrite(k)
	m.mu.Unlock()
}

// get returns the mirrored object, nil when there is none.
func (m *mirror) get(tenant, typ, name string) (*current, error) {
	k := mkey{tenant, typ, name}
	m.mu.RLock()
	e := m.objs[k]
	m.mu.RUnlock()
	if e == nil {
		return nil, nil
	}
	return m.current(k, e)
}

// scan calls fn for every mirrored object of typ in tenant ("*": every tenant).
func (m *mirror) scan(tenant, typ string, fn func(k mkey, e *entry)) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for k, e := range m.objs {
		if k.typ == typ && (tenant == "*" || k.tenant == tenant) {
			fn(k, e)
		}
	}
}

// ensure reads tenant into the mirror unless it is there: across every
// tenant at once where the account may ("*"), else the one tenant. A mirror
// once read is read again only by Reload, which applies do not wait for.
func (a *Applier) ensure(ctx context.Context, tenant string) error {
	if err := a.settle(ctx); err != nil {
		return err
	}
	m := &a.m
	if m.has(tenant) {
		return nil
	}
	m.loadMu.Lock()
	defer m.loadMu.Unlock()
	if m.has(tenant) {
		return nil
	}
	scope := "*"
	objs, err := a.readAll(ctx, scope)
	if err != nil && !session.IsRetryable(err) && tenant != "*" {
		logr.FromContextOrDiscard(ctx).V(1).Info("cannot read across tenants; reading one", "tenant", tenant, "error", session.Message(err))
		scope = tenant
		objs, err = a.readAll(ctx, scope)
	}
	if err != nil {
		return err
	}
	m.install(scope, objs, false)
	return nil
}

// has reports whether tenant has been read into the mirror.
func (m *mirror) has(tenant string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.loaded["*"] || m.loaded[tenant]
}

// Reload reads again every scope the mirror holds and swaps in what it
// found: objects another writer changed or deleted behind vipgate's back are
// then diffed as the controller has them, so the next apply of their owner
// repairs them. Applies go on against the mirror as it was while the pages
// are read (at 10,000 Services that takes seconds, which every apply used
// to wait for); their writes are recorded as they land and win over what
// the reload read (dirty). A mirror not read yet is left to the first apply.
func (a *Applier) Reload(ctx context.Context) error {
	m := &a.m
	m.loadMu.Lock()
	defer m.loadMu.Unlock()
	m.mu.RLock()
	scopes := slices.Sorted(maps.Keys(m.loaded))
	m.mu.RUnlock()
	if slices.Contains(scopes, "*") {
		scopes = []string{"*"}
	}
	for _, scope := range scopes {
		objs, err := a.readAll(ctx, scope)
		if err != nil {
			return err
		}
		if a.reloadHook != nil {
			a.reloadHook()
		}
		m.install(scope, objs, true)
	}
	return nil
}

// install swaps in what a read found for scope; writes made while it read win.
func (m *mirror) install(scope string, objs map[mkey]*entry, reload bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var before map[mkey]*entry
	if reload || m.objs == nil {
		before = m.objs
		m.objs = objs
		for k, e := range before {
			if scope != "*" && k.tenant != scope {
				m.objs[k] = e // another tenant, not read now
			}
		}
	} else {
		for k, e := range objs {
			m.gone(m.objs[k], e)
			m.objs[k] = e
		}
	}
	for k, e := range m.dirty {
		if e == nil {
			m.gone(m.objs[k], nil)
			delete(m.objs, k)
		} else {
			m.gone(m.objs[k], e)
			m.objs[k] = e
		}
	}
	// What a reload no longer finds (deleted by someone else) is gone too.
	for k, e := range before {
		m.gone(e, m.objs[k])
	}
	m.reindex()
	m.dirty, m.reloading = nil, false
	if m.loaded == nil {
		m.loaded = map[string]bool{}
	}
	m.loaded[scope] = true
}

// readAll reads every object this cluster created in scope ("*" or one
// tenant), in pages, one collection per type. VsVips have no created_by
// field: they are read by this cluster's name prefix and kept by marker.
//
// The collections are read at the same time, readParallel at once: each is
// pages in a row, and a controller answers a page of 200 objects in tens
// to hundreds of milliseconds, so one after the other a restart with
// 10,000 Services waited about 25 s for its 340 pages before any shard
// could sync.
func (a *Applier) readAll(ctx context.Context, scope string) (map[mkey]*entry, error) {
	a.m.mu.Lock()
	a.m.reloading, a.m.dirty = true, map[mkey]*entry{}
	a.m.mu.Unlock()
	type job struct{ typ, by string }
	var jobs []job
	for _, typ := range model.CreateOrder {
		jobs = append(jobs, job{typ, a.CreatedBy})
		// VsVips are read by name (they have no created_by): once.
		if a.AdoptFrom != "" && typ != model.TypeVsVip {
			jobs = append(jobs, job{typ, a.AdoptFrom})
		}
	}
	read := make([]map[mkey]*entry, len(jobs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(readParallel)
	for i, j := range jobs {
		read[i] = map[mkey]*entry{}
		g.Go(func() error { return a.readType(gctx, scope, j.typ, j.by, read[i]) })
	}
	if err := g.Wait(); err != nil {
		a.m.mu.Lock()
		a.m.reloading, a.m.dirty = false, nil
		a.m.mu.Unlock()
		return nil, err
	}
	// In the order of the jobs, as when they were read one after the other:
	// an object both creators' listings return keeps the later one.
	out := map[mkey]*entry{}
	for _, m := range read {
		maps.Copy(out, m)
	}
	return out, nil
}

// readParallel bounds the collections readAll reads at once (the session
// pool has 8 sessions, which the reconciles share).
const readParallel = 4

// readType reads the objects of typ that createdBy wrote (VsVips: those
// named with this cluster's prefix) into out, keeping this cluster's own and,
// when adopting, AKO's.
func (a *Applier) readType(ctx context.Context, scope, typ, createdBy string, out map[mkey]*entry) error {
	q := url.Values{"include_name": {"true"}}
	if typ == model.TypeVsVip {
		q.Set("name.contains", a.NamePrefix)
	} else {
		q.Set("created_by", createdBy)
	}
	return a.c.List(ctx, typ, q, scope, avi.PageSize, func(raw json.RawMessage) error {
		var obj map[string]any
		if err := json.Unmarshal(raw, &obj); err != nil {
			return fmt.Errorf("decoding %s: %w", typ, err)
		}
		c := currentOf(typ, obj)
		if c.createdBy != a.CreatedBy && !a.fromAKO(c) {
			return nil
		}
		a.remember(c.uuid, c.name)
		e, err := a.m.newEntry(typ, obj)
		if err != nil {
			return err
		}
		tenant := scope
		if n := inventory.RefName(stringOf(obj, "tenant_ref")); n != "" {
			tenant = inventory.Intern(n)
		}
		out[mkey{tenant, typ, c.name}] = e
		return nil
	})
}

// markerValues returns every value of a marker, comma-separated ("" when absent).
func markerValues(m map[string]any, key string) string {
	ms, _ := m["markers"].([]any)
	for _, x := range ms {
		mm, _ := x.(map[string]any)
		if k, _ := mm["key"].(string); k == key {
			vs, _ := mm["values"].([]any)
			var out []string
			for _, v := range vs {
				if s, ok := v.(string); ok {
					out = append(out, s)
				}
			}
			return strings.Join(out, ",")
		}
	}
	return ""
}

func stringOf(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// unsureMark is one unknown outcome of a create. written says a write of
// the object was recorded since settle began to read it: that write's
// answer is newer than the read, which must not undo it.
type unsureMark struct{ written bool }

// uncertain notes a create whose outcome is unknown (see unsure).
func (m *mirror) uncertain(tenant, typ, name string, err error) {
	if !session.IsRetryable(err) {
		return
	}
	m.markUnsure(mkey{tenant, typ, name})
}

// markUnsure has k read again by name before the mirror is next used.
func (m *mirror) markUnsure(k mkey) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.unsure == nil {
		m.unsure = map[mkey]*unsureMark{}
	}
	m.unsure[k] = &unsureMark{}
}

// noteWrite tells an unsure mark of k that a write was recorded; m.mu is held.
func (m *mirror) noteWrite(k mkey) {
	if u := m.unsure[k]; u != nil {
		u.written = true
	}
}

// settle reads each unsure object by name and keeps what the controller has:
// this cluster's object, or nothing. What the read found is kept only when
// no write of the object was recorded while it read (a create of another
// reconcile that succeeded meanwhile must stay in the mirror), and the mark
// is dropped only when no new unknown outcome replaced it.
func (a *Applier) settle(ctx context.Context) error {
	a.m.mu.Lock()
	marks := make(map[mkey]*unsureMark, len(a.m.unsure))
	for k, u := range a.m.unsure {
		u.written = false
		marks[k] = u
	}
	a.m.mu.Unlock()
	for k, u := range marks {
		c, err := a.readByName(ctx, k.typ, k.name, k.tenant)
		if err != nil {
			return err
		}
		var e *entry
		if c != nil && (c.createdBy == a.CreatedBy || a.fromAKO(c)) {
			a.remember(c.uuid, c.name)
			if err := a.normalizeRefs(ctx, c.raw, k.tenant); err != nil {
				return err
			}
			if e, err = a.m.newEntry(k.typ, c.raw); err != nil {
				return err
			}
		}
		if a.m.settle(k, u, e, c != nil && e == nil) && e != nil {
			if err := a.notifyVsVip(k.tenant, k.typ, c.raw); err != nil {
				return err
			}
		}
	}
	return nil
}

// settle applies what a read of unsure object k found (e; nil: nothing of
// ours, and foreign: something not ours under that name, left out of the
// mirror either way) unless a write of k was recorded meanwhile, and drops
// the mark unless a new one replaced it. It reports whether e was applied.
func (m *mirror) settle(k mkey, u *unsureMark, e *entry, foreign bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.unsure[k] != u {
		return false
	}
	delete(m.unsure, k)
	if u.written || foreign {
		return false
	}
	if e == nil {
		m.delObj(k)
	} else {
		m.setObj(k, e)
	}
	if m.reloading {
		m.dirty[k] = e
	}
	return true
}
