// Package apply makes the controller match a desired model.Set with as few
// writes as possible.
//
// For one owner (a Service or shared-VIP group) it reads the current objects
// by name (a VsVip, a VirtualService, the owner's port pools); for an L7
// shard it reads the parent virtual service, its SNI children and what they
// reference (see readL7). It compares them
// semantically with the desired ones (references normalised to type:name,
// server-set fields and controller defaults ignored), then sends only what
// differs: creates and updates in dependency order (VsVip →
// SSLKeyAndCertificate → Pool → PoolGroup → L4PolicySet → HTTPPolicySet →
// VirtualService, parents before SNI children), deletes of stale objects in
// reverse. A second Apply of the same set sends nothing.
//
// Everything is found by name, so an Apply interrupted halfway is finished by
// the next one, and Delete removes whatever exists. Objects whose created_by
// is not ours are never changed or deleted.
//
// Errors are *session.Error values naming the object: use session.IsRetryable,
// session.IsBadRequest and session.Message on them.
package apply

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/go-logr/logr"

	"github.com/vipgate/vipgate/avi"
	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/avi/objects"
	"github.com/vipgate/vipgate/avi/session"
)

// Applier applies desired sets through one controller client. It is safe for
// concurrent use on different owners; callers serialise work per owner (a
// reconciler does, per key).
type Applier struct {
	c avi.Client
	// CreatedBy and NamePrefix ("<cluster>--") select this cluster's objects
	// for the mirror (see mirror.go).
	CreatedBy, NamePrefix string
	// OnVsVip is told every VsVip write (the controller's answer, or the
	// deletion), e.g. inventory.Cache.Observe: the writes keep the inventory
	// current. OnWrite is called after an Edit of a shared object (an SE
	// group's labels), e.g. inventory.Cache.Invalidate.
	OnVsVip func(inventory.VsVipChange)
	OnWrite func()
	// AdoptFrom is AKO's created_by for this cluster ("ako-<cluster>") when
	// AKO's objects are to be adopted (see adopt.go), "" otherwise; Cluster
	// is the clusterName, which marks AKO's VsVips. AKOGate, when set, is
	// asked before AKO's objects are changed or deleted, and refuses while
	// AKO itself is running.
	AdoptFrom, Cluster string
	AKOGate            func(context.Context) error

	m  mirror
	mu sync.Mutex
	// names maps UUIDs (the controller's carry their type: "pool-…") to
	// names, for references without #name. Keyed by the UUID alone, its
	// strings are the mirror's own, not copies.
	names map[string]string
	// l7 bounds the L7 shards applied at once (l7Parallel).
	l7 chan struct{}
	// reloadHook, when set (tests), runs between a Reload's reads and its swap.
	reloadHook func()
}

// l7Parallel is how many L7 shards apply at once. A shard's apply holds
// every object of the shard decoded (thousands at 5,000 Ingresses), so
// eight shards at once, as at a start-up, held about 115 MB more than two
// do. Two keep the session pool busy (each sends applyParallel requests
// at a time) and both cores.
const l7Parallel = 2

// New returns an applier using c for the objects of createdBy, whose names
// start with namePrefix.
func New(c avi.Client, createdBy, namePrefix string) *Applier {
	a := &Applier{c: c, CreatedBy: createdBy, NamePrefix: namePrefix, names: map[string]string{}, l7: make(chan struct{}, l7Parallel)}
	a.m.forget = a.forget
	return a
}

// tenant is the tenant an owner's objects live in ("" is the client's).
func (a *Applier) tenant(t string) string {
	if t == "" {
		return a.c.Tenant()
	}
	return t
}

// Owner identifies the objects of one Service or shared-VIP group.
type Owner struct {
	// Name is the VsVip / VirtualService name (model.Set.Owner).
	Name string
	// CreatedBy is our marker ("vipgate-<cluster>").
	CreatedBy string
	// OwnedBy and ClusterID are the owner identity and cluster identity
	// vipgate's markers carry on every object of the owner (model.Set's);
	// objects whose markers name another are never changed or deleted.
	// Empty means unknown (legacy sets): only created_by is checked.
	OwnedBy, ClusterID string
	// Tenant holds the objects; "" is the client's tenant.
	Tenant string
	// Namespace is an L4 owner's namespace ("" for an L7 shard).
	Namespace string
	// PoolBases are the Service base names whose port pools belong to the
	// owner; empty means [Name].
	PoolBases []string
	// L7 marks an L7 shard: Name is its parent virtual service, and its
	// objects are what the parent and its SNI children reference (policy
	// sets, pool groups, pools, certificates), found by walking references.
	L7 bool
	// Held are the fields, by "type/name", kept as the controller has them (model.Set.Held).
	Held map[string][]string
}

// OwnerOf returns the owner of a desired set.
func OwnerOf(s *model.Set) Owner {
	return Owner{Name: s.Owner, CreatedBy: s.CreatedBy, OwnedBy: s.OwnedBy, ClusterID: s.ClusterID,
		Tenant: s.Tenant, Namespace: s.Namespace, PoolBases: s.PoolBases, L7: s.L7, Held: s.Held}
}

// refuse says why owner must not change or delete c ("" when it may): it was
// created by someone else, it belongs to another cluster identity (two
// clusters with one clusterName), or another owner of this cluster holds
// the name (names are concatenations, so "team/a-web" and "team-a/web"
// meet). Objects without vipgate's identity markers (written before vipgate
// had them) are judged by created_by alone.
func (owner Owner) refuse(c *current) string {
	switch {
	case c.createdBy != owner.CreatedBy:
		by := "no created_by"
		if c.createdBy != "" {
			by = fmt.Sprintf("created_by %q", c.createdBy)
		}
		return fmt.Sprintf("an object with this name exists with %s, not %q; vipgate leaves it alone", by, owner.CreatedBy)
	case c.clusterID != "" && owner.ClusterID != "" && c.clusterID != owner.ClusterID:
		return fmt.Sprintf("an object with this name belongs to another cluster (identity %s) that uses the same clusterName; vipgate leaves it alone: give each cluster its own AKOSettings.clusterName", c.clusterID)
	case c.owner != "" && owner.OwnedBy != "" && c.owner != owner.OwnedBy:
		return fmt.Sprintf("the name is already held by %s (Avi names join namespace and name with \"-\", so different objects can meet); vipgate leaves it alone: rename one of them", c.owner)
	}
	return ""
}

// Result says what Apply or Delete did.
type Result struct {
	// VsVip is the owner's VsVip as the controller returned it (allocated
	// addresses included); after Delete, the VsVip that was deleted, if any.
	// Use model.AllocatedAddresses on it.
	VsVip *objects.VsVip
	// Writes is the number of POST/PUT/DELETE requests sent.
	Writes int
	// Created, Updated and Deleted list "type/name" in the order they were done.
	Created, Updated, Deleted []string
	// Adopted lists the updates that took over AKO's objects.
	Adopted []string
}

// Object is one controller object found by ListOwned.
type Object struct {
	Type, Name, UUID, Tenant string
	// ClusterID and OwnedBy are its vipgate identity markers ("" when absent:
	// an object written before vipgate had them, never provably ours).
	ClusterID, OwnedBy string
	// AKO marks AKO's objects of this cluster, listed when adoption is on.
	AKO bool
	// Markers are AKO's markers by key (values comma-separated), for AKO's objects.
	Markers map[string]string
	// Child is set on SNI child virtual services, which go before their parents on delete.
	Child bool
}

// current is one object read from the controller.
type current struct {
	typ, name, uuid, createdBy string
	// clusterID and owner are vipgate's identity markers ("" when absent);
	// clusterName is the clustername marker (AKO's VsVips carry only it).
	clusterID, owner, clusterName string
	child                         bool
	raw                           map[string]any
}

// desiredObj is one object of the desired set in wire form. It is kept as
// JSON and decoded only while it is applied (body): an L7 shard desires
// thousands of objects, which as decoded maps took about ten times the
// space, all at once, for every shard syncing at the same time (about
// 220 MB at the start of a process with 5,000 Ingresses).
type desiredObj struct {
	typ, name string
	// child marks an SNI child virtual service (it goes after its parent).
	child bool
	wire  json.RawMessage
	// keep are the addresses, by vip_id, a VsVip asks for if it has to be
	// created (model.Set.KeepVIP).
	keep map[string]string
}

// body decodes the object: a new map on every call, the caller's to change.
func (d desiredObj) body() (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(d.wire, &m); err != nil {
		return nil, fmt.Errorf("decoding the desired %s %s: %w", d.typ, d.name, err)
	}
	return m, nil
}

// l7Held marks a context whose holder has taken an L7 slot (HoldL7).
type l7Held struct{}

// HoldL7 takes one of the l7Parallel slots that bound the L7 shards worked
// on at once, waiting for one until ctx ends, and returns a context that
// carries it (an Apply with it takes no other) and the function that frees
// it (once; later calls do nothing). Apply takes one for an L7 set itself;
// a shard's reconcile takes it earlier, before it plans every Ingress and
// builds its shard, since a sync waiting for a slot with that built holds
// as much as one being applied: at a start-up with 5,000 Ingresses, eight
// syncs at once held up to 170 MB more than the live heap around them.
func (a *Applier) HoldL7(ctx context.Context) (context.Context, func(), error) {
	if a.l7 == nil {
		return ctx, func() {}, nil
	}
	select {
	case a.l7 <- struct{}{}:
	case <-ctx.Done():
		return ctx, func() {}, ctx.Err()
	}
	var once sync.Once
	return context.WithValue(ctx, l7Held{}, true), func() { once.Do(func() { <-a.l7 }) }, nil
}

// Apply makes the controller hold exactly set's objects for its owner.
func (a *Applier) Apply(ctx context.Context, set *model.Set) (*Result, error) {
	log := logr.FromContextOrDiscard(ctx).WithValues("owner", set.Owner)
	owner := OwnerOf(set)
	if owner.L7 && ctx.Value(l7Held{}) == nil {
		held, release, err := a.HoldL7(ctx)
		if err != nil {
			return nil, err
		}
		defer release()
		ctx = held
	}
	want, err := flatten(set)
	if err != nil {
		return nil, err
	}
	cur, err := a.readOwner(ctx, owner, want)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	// Refuse to touch an object with our name that is not provably ours.
	for _, d := range want {
		c := cur[d.typ+"/"+d.name]
		if c != nil && !a.mine(owner, c) {
			return res, &session.Error{Op: "apply " + d.typ, Object: d.name, Message: a.refuse(owner, c)}
		}
		if c != nil && a.fromAKO(c) {
			if why := akoMismatch(d, c); why != "" {
				return res, &session.Error{Op: "apply " + d.typ, Object: d.name, Message: why}
			}
		}
	}
	if err := a.akoGate(ctx, owner, cur); err != nil {
		return res, err
	}
	defer a.logAdopted(ctx, cur, res)
	// Creates and updates in dependency order. Objects of one step (same type;
	// SNI children after parents) do not refer to each other, so a step runs
	// up to applyParallel requests at once: a shard creating a thousand pools
	// is not a thousand round trips in a row.
	for i := 0; i < len(want); {
		j := i + 1
		for j < len(want) && step(want[j]) == step(want[i]) {
			j++
		}
		outs := make([]outcome, j-i)
		var wg sync.WaitGroup
		sem := make(chan struct{}, applyParallel)
		for k := i; k < j; k++ {
			wg.Add(1)
			sem <- struct{}{}
			go func(k int) {
				defer wg.Done()
				defer func() { <-sem }()
				outs[k-i] = a.applyOne(ctx, owner, want[k], cur[want[k].typ+"/"+want[k].name])
			}(k)
		}
		wg.Wait()
		for k, o := range outs {
			d := want[i+k]
			res.Writes += o.writes
			if o.err != nil {
				return res, o.err
			}
			switch {
			case o.created:
				res.Created = append(res.Created, d.typ+"/"+d.name)
				log.V(1).Info("created", "type", d.typ, "name", d.name)
			case o.updated:
				res.Updated = append(res.Updated, d.typ+"/"+d.name)
				log.V(1).Info("updated", "type", d.typ, "name", d.name)
			}
			if o.vsvip != nil {
				res.VsVip = o.vsvip
			}
		}
		i = j
	}
	// Stale objects (e.g. the pool of a removed port), in reverse order.
	wanted := map[string]bool{}
	for _, d := range want {
		wanted[d.typ+"/"+d.name] = true
	}
	var stale []*current
	for k, c := range cur {
		if !wanted[k] && a.mine(owner, c) {
			stale = append(stale, c)
		}
	}
	if err := a.deleteAll(ctx, stale, owner.Tenant, res, owner.L7); err != nil {
		return res, err
	}
	return res, nil
}

// applyParallel bounds the requests one Apply sends at once (the session
// pool has 8; other owners' reconciles share it).
const applyParallel = 4

// step groups desired objects that can be sent concurrently.
func step(d desiredObj) string {
	if d.child {
		return d.typ + "/child"
	}
	return d.typ
}

// outcome is what applyOne did.
type outcome struct {
	writes           int
	created, updated bool
	vsvip            *objects.VsVip
	err              error
}

// applyOne makes one object match d: nothing when the current one covers it,
// an update, or a create (falling back to an update when the name exists).
func (a *Applier) applyOne(ctx context.Context, owner Owner, d desiredObj, c *current) (o outcome) {
	tenant := a.tenant(owner.Tenant)
	if c == nil {
		if c, o = a.create(ctx, owner, d); c == nil || o.err != nil {
			return o
		}
	}
	if err := a.normalizeRefs(ctx, c.raw, tenant); err != nil {
		o.err = err
		return o
	}
	want, err := d.body()
	if err != nil {
		o.err = err
		return o
	}
	body := holdFields(want, c.raw, owner.Held[d.typ+"/"+d.name])
	if d.typ == model.TypeVsVip {
		body = want
		preserveVips(body, c.raw)
	}
	if covers(comparable(d.typ, body), c.raw) && !removedManaged(d.typ, body, c.raw) {
		if d.typ == model.TypeVsVip {
			o.vsvip, o.err = decode[objects.VsVip](c.raw)
		}
		return o
	}
	body = clone(body)
	body["uuid"] = c.uuid
	o.writes++
	var out map[string]any
	if err := a.c.Update(ctx, d.typ, c.uuid, body, tenant, &out); err != nil {
		if session.IsNotFound(err) {
			// The mirror was behind: someone deleted it. Create it again.
			a.m.remove(tenant, d.typ, d.name)
			_, created := a.create(ctx, owner, d)
			created.writes += o.writes
			return created
		}
		o.err = session.WithObject(err, d.typ+"/"+d.name)
		return o
	}
	o.updated = true
	o.err = a.record(ctx, tenant, d.typ, out)
	if o.err == nil && d.typ == model.TypeVsVip {
		o.vsvip, o.err = decode[objects.VsVip](out)
	}
	return o
}

// create POSTs d. When the name exists already (an L7 object another shard
// held, one left by an interrupted apply, one the mirror has not seen) it
// reads that object and returns it, for an update if it is the owner's.
func (a *Applier) create(ctx context.Context, owner Owner, d desiredObj) (*current, outcome) {
	tenant := a.tenant(owner.Tenant)
	o := outcome{writes: 1}
	var out map[string]any
	err := a.post(ctx, d, tenant, &out, &o)
	if err == nil {
		o.created = true
		if o.err = a.record(ctx, tenant, d.typ, out); o.err != nil {
			// Created, but not in the mirror (naming its references
			// failed): read it by name before the mirror is next used, or
			// the owner's delete would not know it exists.
			a.m.markUnsure(mkey{tenant, d.typ, d.name})
		} else if d.typ == model.TypeVsVip {
			o.vsvip, o.err = decode[objects.VsVip](out)
		}
		return nil, o
	}
	if !session.IsConflict(err) {
		a.m.uncertain(tenant, d.typ, d.name, err)
		o.err = session.WithObject(err, d.typ+"/"+d.name)
		return nil, o
	}
	c, rerr := a.readByName(ctx, d.typ, d.name, tenant)
	if rerr != nil || c == nil {
		o.err = session.WithObject(err, d.typ+"/"+d.name)
		return nil, o
	}
	if !a.mine(owner, c) {
		o.err = &session.Error{Op: "apply " + d.typ, Object: d.name, Message: a.refuse(owner, c)}
		return nil, o
	}
	if o.err = a.record(ctx, tenant, d.typ, c.raw); o.err != nil {
		a.m.markUnsure(mkey{tenant, d.typ, d.name})
		return nil, o
	}
	return c, o
}

// post creates d. A VsVip created while its owner shows a VIP asks for
// those addresses first (desiredObj.keep), and when the controller refuses them
// (400: no longer free, or out of range now) it is created as desired, with
// the address the IPAM picks.
func (a *Applier) post(ctx context.Context, d desiredObj, tenant string, out *map[string]any, o *outcome) error {
	if len(d.keep) == 0 {
		return a.c.Create(ctx, d.typ, d.wire, tenant, out)
	}
	log := logr.FromContextOrDiscard(ctx).WithValues("type", d.typ, "name", d.name, "vip", d.keep)
	wire, err := withAddresses(d.wire, d.keep)
	if err != nil {
		return err
	}
	err = a.c.Create(ctx, d.typ, wire, tenant, out)
	if !session.IsBadRequest(err) {
		if err == nil {
			log.Info("created again with the VIP its owner shows")
		}
		return err
	}
	log.Info("created again without the VIP its owner shows: the controller refused it", "reason", err.Error())
	*out = nil
	o.writes++
	return a.c.Create(ctx, d.typ, d.wire, tenant, out)
}

// withAddresses returns a VsVip's wire form with each vip in keep (by
// vip_id) asking for its address.
func withAddresses(wire json.RawMessage, keep map[string]string) (json.RawMessage, error) {
	var m map[string]any
	if err := json.Unmarshal(wire, &m); err != nil {
		return nil, err
	}
	vips, _ := m["vip"].([]any)
	for _, v := range vips {
		vip, _ := v.(map[string]any)
		id, _ := vip["vip_id"].(string)
		addr, ok := keep[id]
		if vip == nil || !ok {
			continue
		}
		a, err := netip.ParseAddr(addr)
		if err != nil {
			return nil, err
		}
		field, typ := "ip_address", "V4"
		if a.Is6() {
			field, typ = "ip6_address", "V6"
		}
		vip[field] = map[string]any{"addr": a.String(), "type": typ}
	}
	return json.Marshal(m)
}

// record puts an object the controller returned into the mirror, with its
// references named (the mirror's diffs compare references by name).
func (a *Applier) record(ctx context.Context, tenant, typ string, obj map[string]any) error {
	if obj == nil {
		return nil
	}
	c := currentOf(typ, obj)
	a.remember(c.uuid, c.name) // its own url names it
	if err := a.normalizeRefs(ctx, obj, tenant); err != nil {
		return err
	}
	if err := a.notifyVsVip(tenant, typ, obj); err != nil {
		return err
	}
	return a.m.put(tenant, typ, obj)
}

// notifyVsVip tells OnVsVip the addresses a VsVip the controller returned holds.
func (a *Applier) notifyVsVip(tenant, typ string, obj map[string]any) error {
	if typ != model.TypeVsVip || a.OnVsVip == nil {
		return nil
	}
	v, err := decode[objects.VsVip](obj)
	if err != nil {
		return err
	}
	c := currentOf(typ, obj)
	a.OnVsVip(inventory.VsVipChange{Addrs: model.AllocatedAddresses(v),
		Holder: inventory.Holder{VsVip: c.name, Tenant: tenant, CreatedBy: c.createdBy, ClusterID: c.clusterID, Owner: c.owner}})
	return nil
}

// Delete removes every object of owner, VirtualService first and VsVip last.
// Deleting what is already gone is not an error.
func (a *Applier) Delete(ctx context.Context, owner Owner) (*Result, error) {
	res, err := a.deleteOwner(ctx, owner)
	if err == nil || owner.L7 || !session.IsConflict(err) {
		return res, err
	}
	// Refused because something still refers to an object (409): the mirror
	// may lack the owner's virtual service (a create whose answer was lost).
	// Read the owner's named objects from the controller and try once more.
	tenant := a.tenant(owner.Tenant)
	for _, typ := range []string{model.TypeVirtualService, model.TypeVsVip} {
		c, rerr := a.readByName(ctx, typ, owner.Name, tenant)
		if rerr != nil {
			return res, err
		}
		if c != nil {
			if rerr := a.record(ctx, tenant, typ, c.raw); rerr != nil {
				return res, err
			}
		}
	}
	again, err := a.deleteOwner(ctx, owner)
	if res == nil {
		res = &Result{}
	}
	if again != nil {
		res.Writes += again.Writes
		res.Deleted = append(res.Deleted, again.Deleted...)
		if res.VsVip == nil {
			res.VsVip = again.VsVip
		}
	}
	return res, err
}

// deleteOwner deletes the owner's objects the mirror knows.
func (a *Applier) deleteOwner(ctx context.Context, owner Owner) (*Result, error) {
	cur, err := a.readOwner(ctx, owner, nil)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	if err := a.akoGate(ctx, owner, cur); err != nil {
		return res, err
	}
	var mine []*current
	for _, c := range cur {
		if a.mine(owner, c) {
			mine = append(mine, c)
		}
	}
	if v := cur[model.TypeVsVip+"/"+owner.Name]; v != nil && a.mine(owner, v) {
		// The caller may need the addresses it held (status entries to clear).
		if res.VsVip, err = decode[objects.VsVip](v.raw); err != nil {
			return nil, err
		}
	}
	err = a.deleteAll(ctx, mine, owner.Tenant, res, owner.L7)
	return res, err
}

// deleteAll deletes objs in reverse dependency order, SNI children before
// parents. shared says objects may have been taken over by another owner (an
// L7 pool whose route moved to another shard): a delete refused because
// something else now refers to the object is then skipped, not an error.
func (a *Applier) deleteAll(ctx context.Context, objs []*current, tenant string, res *Result, shared bool) error {
	rank := func(c *current) int {
		r := 2 * slices.Index(model.CreateOrder, c.typ)
		if c.child {
			r++
		}
		return r
	}
	slices.SortFunc(objs, func(x, y *current) int {
		if r := rank(y) - rank(x); r != 0 {
			return r
		}
		return strings.Compare(x.name, y.name)
	})
	for _, c := range objs {
		res.Writes++
		if err := a.c.Delete(ctx, c.typ, c.uuid, tenant); err != nil {
			if shared && session.IsConflict(err) && c.typ != model.TypeVirtualService && c.typ != model.TypeVsVip {
				logr.FromContextOrDiscard(ctx).V(1).Info("kept: another owner refers to it now", "type", c.typ, "name", c.name)
				continue
			}
			return session.WithObject(err, c.typ+"/"+c.name)
		}
		a.m.remove(a.tenant(tenant), c.typ, c.name)
		if c.typ == model.TypeVsVip && a.OnVsVip != nil {
			a.OnVsVip(inventory.VsVipChange{Holder: inventory.Holder{VsVip: c.name, Tenant: a.tenant(tenant)}, Deleted: true})
		}
		res.Deleted = append(res.Deleted, c.typ+"/"+c.name)
		logr.FromContextOrDiscard(ctx).V(1).Info("deleted", "type", c.typ, "name", c.name)
	}
	return nil
}

// ListOwned lists every object carrying createdBy in the client's tenant
// (tenant "" ) or the given one, of the given types (all of CreateOrder when
// none), for start-up orphan collection: compare with the owners that should
// exist and pass the rest to DeleteObjects.
func (a *Applier) ListOwned(ctx context.Context, createdBy, tenant string, types ...string) ([]Object, error) {
	if createdBy != a.CreatedBy {
		return nil, fmt.Errorf("the applier mirrors %s's objects, not %s's", a.CreatedBy, createdBy)
	}
	if tenant != "*" {
		tenant = a.tenant(tenant)
	}
	if err := a.ensure(ctx, tenant); err != nil {
		return nil, err
	}
	if len(types) == 0 {
		types = model.CreateOrder
	}
	var out []Object
	for _, typ := range types {
		a.m.scan(tenant, typ, func(k mkey, e *entry) {
			id := e.id.Value()
			o := Object{Type: typ, Name: k.name, UUID: e.uuid, Tenant: k.tenant,
				ClusterID: id.clusterID, OwnedBy: id.owner, Child: e.child}
			if a.akoEntry(typ, id.createdBy, id.clusterName) {
				o.AKO, o.Markers = true, e.markers()
			}
			out = append(out, o)
		})
	}
	slices.SortFunc(out, func(x, y Object) int {
		return cmp.Or(strings.Compare(x.Tenant, y.Tenant), strings.Compare(x.Type, y.Type), strings.Compare(x.Name, y.Name))
	})
	return out, nil
}

// DeleteObjects deletes objects found by ListOwned, in reverse dependency order.
func (a *Applier) DeleteObjects(ctx context.Context, objs []Object) (*Result, error) {
	res := &Result{}
	byTenant := map[string][]*current{}
	for _, o := range objs {
		byTenant[o.Tenant] = append(byTenant[o.Tenant], &current{typ: o.Type, name: o.Name, uuid: o.UUID, child: o.Child})
	}
	var err error
	for t, cs := range byTenant {
		if err = a.deleteAll(ctx, cs, t, res, false); err != nil {
			break
		}
	}
	return res, err
}

// readOwner returns the owner's current objects from the mirror, keyed
// "type/name": the VsVip and VirtualService by name, pools by name pattern
// and by reference from the VirtualService, plus any desired object of
// another type by name. It sends nothing to the controller.
func (a *Applier) readOwner(ctx context.Context, owner Owner, want []desiredObj) (map[string]*current, error) {
	tenant := a.tenant(owner.Tenant)
	if err := a.ensure(ctx, tenant); err != nil {
		return nil, err
	}
	if owner.L7 {
		return a.readL7(owner, tenant, want)
	}
	out := map[string]*current{}
	add := func(typ, name string) error {
		c, err := a.m.get(tenant, typ, name)
		if c != nil {
			out[typ+"/"+name] = c
		}
		return err
	}
	// AKO's L4 virtual services route through an L4PolicySet of their name:
	// adoption replaces it with service_pool_select and deletes it.
	for _, typ := range []string{model.TypeVsVip, model.TypeVirtualService, model.TypeL4PolicySet} {
		if err := add(typ, owner.Name); err != nil {
			return nil, err
		}
	}
	bases := owner.PoolBases
	if len(bases) == 0 {
		bases = []string{owner.Name}
	}
	// A pool whose markers name this owner is its own, whatever its name:
	// the pool of a member that left a shared-VIP group, once the virtual
	// service stopped referencing it and its delete failed, is found by
	// nothing else.
	pools := a.m.poolsOf(tenant, owner.OwnedBy, owner.ClusterID, bases)
	// Pools the VirtualService references but that are named for another
	// owner's pattern (e.g. a Service that left a shared-VIP group).
	if vs := out[model.TypeVirtualService+"/"+owner.Name]; vs != nil {
		pools = append(pools, referencedPools(vs.raw)...)
	}
	for _, name := range pools {
		if err := add(model.TypePool, name); err != nil {
			return nil, err
		}
	}
	// Desired objects of types not covered above.
	for _, d := range want {
		if d.typ != model.TypeVsVip && d.typ != model.TypeVirtualService && d.typ != model.TypePool && d.typ != model.TypeL4PolicySet {
			if err := add(d.typ, d.name); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// currentOf describes a controller object for the ownership checks.
func currentOf(typ string, m map[string]any) *current {
	c := &current{typ: typ, raw: m}
	c.name, _ = m["name"].(string)
	c.uuid, _ = m["uuid"].(string)
	c.createdBy, _ = m["created_by"].(string)
	if typ == model.TypeVsVip || c.createdBy == "" {
		c.createdBy = markerOf(m, model.MarkerCreatedBy)
	}
	c.clusterID, c.owner = markerOf(m, model.MarkerClusterID), markerOf(m, model.MarkerOwner)
	c.clusterName = markerOf(m, model.MarkerClusterName)
	if t, _ := m["type"].(string); typ == model.TypeVirtualService && t == model.VSTypeVHChild {
		c.child = true
	}
	return c
}

// decodeCurrent decodes one object read from the controller.
func (a *Applier) decodeCurrent(typ string, raw json.RawMessage) (*current, error) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", typ, err)
	}
	c := currentOf(typ, m)
	a.remember(c.uuid, c.name)
	return c, nil
}

// readByName reads one object by name; nil when there is none.
func (a *Applier) readByName(ctx context.Context, typ, name, tenant string) (*current, error) {
	var found *current
	err := a.c.List(ctx, typ, url.Values{"name": {name}, "include_name": {"true"}}, tenant, 0, func(raw json.RawMessage) error {
		c, err := a.decodeCurrent(typ, raw)
		found = c
		return err
	})
	return found, err
}

func referencedPools(vs map[string]any) []string {
	var out []string
	if r, ok := vs["pool_ref"].(string); ok {
		out = append(out, inventory.RefName(r))
	}
	if sel, ok := vs["service_pool_select"].([]any); ok {
		for _, s := range sel {
			if m, ok := s.(map[string]any); ok {
				if r, ok := m["service_pool_ref"].(string); ok {
					out = append(out, inventory.RefName(r))
				}
			}
		}
	}
	out = slices.DeleteFunc(out, func(s string) bool { return s == "" })
	slices.Sort(out)
	return slices.Compact(out)
}

// markerOf returns the first value of the marker key of a raw object, or "".
func markerOf(m map[string]any, key string) string {
	ms, _ := m["markers"].([]any)
	for _, x := range ms {
		mm, _ := x.(map[string]any)
		if k, _ := mm["key"].(string); k == key {
			if vs, _ := mm["values"].([]any); len(vs) > 0 {
				s, _ := vs[0].(string)
				return s
			}
		}
	}
	return ""
}

// flatten turns a set into wire-form objects in creation order. Each is
// marshalled on its own and named from its typed form: no decoding here
// (applyOne decodes each while it applies it).
func flatten(s *model.Set) ([]desiredObj, error) {
	var out []desiredObj
	add := func(typ string, obj any, name, vsType *string) error {
		if name == nil || *name == "" {
			return fmt.Errorf("a %s of %s has no name", typ, s.Owner)
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		out = append(out, desiredObj{typ: typ, name: *name, wire: b, child: vsType != nil && *vsType == model.VSTypeVHChild})
		return nil
	}
	var err error
	for _, o := range s.VsVips {
		n := len(out)
		err = errors.Join(err, add(model.TypeVsVip, o, o.Name, nil))
		if len(out) > n {
			out[n].keep = s.KeepVIP[out[n].name]
		}
	}
	for _, o := range s.SSLKeyAndCertificates {
		err = errors.Join(err, add(model.TypeSSLKeyAndCertificate, o, o.Name, nil))
	}
	for _, o := range s.Pools {
		err = errors.Join(err, add(model.TypePool, o, o.Name, nil))
	}
	for _, o := range s.PoolGroups {
		err = errors.Join(err, add(model.TypePoolGroup, o, o.Name, nil))
	}
	for _, o := range s.HTTPPolicySets {
		err = errors.Join(err, add(model.TypeHTTPPolicySet, o, o.Name, nil))
	}
	for _, o := range s.VirtualServices {
		err = errors.Join(err, add(model.TypeVirtualService, o, o.Name, o.Type))
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

func decode[T any](m map[string]any) (*T, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, err
	}
	return v, nil
}

func (a *Applier) remember(uuid, name string) {
	if uuid == "" || name == "" {
		return
	}
	a.mu.Lock()
	a.names[uuid] = name
	a.mu.Unlock()
}

// forget drops uuid from names once its object has left the mirror. Kept
// forever, names would grow by three entries for every Service created
// and deleted while vipgate runs.
func (a *Applier) forget(uuid string) {
	a.mu.Lock()
	delete(a.names, uuid)
	a.mu.Unlock()
}

// normalizeRefs makes sure every reference in raw carries its name, resolving
// UUIDs the controller returned without "#name" (cached: UUIDs never change owner).
func (a *Applier) normalizeRefs(ctx context.Context, raw any, tenant string) error {
	var err error
	walkStrings(raw, func(s string) string {
		if err != nil {
			return s
		}
		typ, uuid, name, ok := parseRef(s)
		if !ok || name != "" || uuid == "" {
			return s
		}
		a.mu.Lock()
		n := a.names[uuid]
		a.mu.Unlock()
		if n == "" {
			var o struct {
				Name string `json:"name"`
			}
			if e := a.c.Get(ctx, typ, uuid, url.Values{"fields": {"name"}}, tenant, &o); e != nil {
				err = session.WithObject(e, typ+"/"+uuid)
				return s
			}
			n = o.Name
			a.remember(uuid, n)
		}
		return s + "#" + n
	})
	return err
}

func walkStrings(v any, fn func(string) string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok {
				x[k] = fn(s)
			} else {
				walkStrings(e, fn)
			}
		}
	case []any:
		for i, e := range x {
			if s, ok := e.(string); ok {
				x[i] = fn(s)
			} else {
				walkStrings(e, fn)
			}
		}
	}
}

func clone(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}
