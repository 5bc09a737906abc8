package avisim

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmware/alb-sdk/go/models"
)

// apiError is an error with the HTTP status the controller would answer;
// it is rendered as {"error": msg}, which alb-sdk copies into
// AviError.Message.
type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d: %s", e.code, e.msg) }

func errf(code int, format string, a ...any) *apiError {
	return &apiError{code: code, msg: fmt.Sprintf(format, a...)}
}

// object is one stored Avi object: the decoded alb-sdk model (with the
// server-set fields filled in) plus what the store indexes on.
type object struct {
	kind   *kind
	tenant string
	uuid   string
	name   string
	model  any      // *models.X; replaced, never mutated, once stored
	refs   []string // uuids this object refers to
	ips    []allocation
}

type table struct {
	byUUID map[string]*object
	byName map[string]*object
}

// store holds all objects. One RWMutex guards everything: reads (the common
// case) run in parallel and writes are short, and a single lock makes
// multi-object invariants (references, IPAM) trivially atomic.
type store struct {
	mu        sync.RWMutex
	base      string                         // "https://host", prefix of every url and reference
	tenants   map[string]map[string]*table   // tenant name -> kind -> table
	all       map[string]*object             // uuid -> object
	referrers map[string]map[string]struct{} // uuid -> uuids referring to it
	used      map[string]map[uint32]string   // network uuid -> IPv4 -> vsvip uuid
	lastMod   atomic.Int64

	// sysconf is the singleton /api/systemconfiguration and sysconfRefs
	// the uuids it refers to (its DNS virtual services).
	sysconf     *models.SystemConfiguration
	sysconfRefs []string
	// loading is set while the seed is loaded: seeded objects skip the
	// license checks (a fresh ESSENTIALS controller still ships
	// System-TCP-Proxy).
	loading bool
	// watchers are signalled after every committed write (the data plane).
	watchMu  sync.Mutex
	watchers map[chan struct{}]struct{}
	// gen counts committed writes (changed under mu's write lock): a
	// collection's filtered and sorted objects are reused while it holds.
	gen uint64
	// listed keeps the last collections listed, for their next pages.
	listed listCache
}

func newStore(base string) *store {
	return &store{
		base:      base,
		tenants:   map[string]map[string]*table{},
		all:       map[string]*object{},
		referrers: map[string]map[string]struct{}{},
		used:      map[string]map[uint32]string{},
		sysconf: &models.SystemConfiguration{
			UUID:               ptr(sysconfUUID),
			DefaultLicenseTier: ptr(tierEnterprise),
		},
	}
}

func (s *store) table(tenant string, k *kind) *table {
	tm := s.tenants[tenant]
	if tm == nil {
		return nil
	}
	t := tm[k.name]
	if t == nil {
		t = &table{byUUID: map[string]*object{}, byName: map[string]*object{}}
		tm[k.name] = t
	}
	return t
}

func (s *store) hasTenant(name string) bool {
	_, ok := s.tenants[name]
	return ok
}

// visible reports whether obj can be seen from tenant: its own objects, and
// the admin tenant's provider objects (clouds, networks, ...).
func visible(obj *object, tenant string) bool {
	return obj.tenant == tenant || (obj.kind.provider && obj.tenant == adminTenant)
}

func (s *store) byUUID(tenant string, k *kind, uuid string) *object {
	o := s.all[uuid]
	if o == nil || o.kind != k || !visible(o, tenant) {
		return nil
	}
	return o
}

func (s *store) byName(tenant string, k *kind, name string) *object {
	if t := s.tenants[tenant][k.name]; t != nil {
		if o := t.byName[name]; o != nil {
			return o
		}
	}
	if k.provider && tenant != adminTenant {
		if t := s.tenants[adminTenant][k.name]; t != nil {
			return t.byName[name]
		}
	}
	return nil
}

func (s *store) ref(k string, uuid string) string { return s.base + "/api/" + k + "/" + uuid }

// nextLastModified returns a strictly increasing microsecond timestamp, the
// format the controller uses for _last_modified.
func (s *store) nextLastModified() string {
	for {
		now := time.Now().UnixMicro()
		prev := s.lastMod.Load()
		if now <= prev {
			now = prev + 1
		}
		if s.lastMod.CompareAndSwap(prev, now) {
			return strconv.FormatInt(now, 10)
		}
	}
}

func newUUID(kind string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return kind + "-" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// parsedRef is a reference as a client may write it.
type parsedRef struct {
	kind string
	uuid string // set for /api/<type>/<uuid>
	name string // set for /api/<type>/?name=<name>
}

// parseRef accepts "/api/<type>/<uuid>", "https://host/api/<type>/<uuid>"
// (optionally with "#name") and "/api/<type>/?name=<name>".
func parseRef(s string) (parsedRef, bool) {
	i := strings.Index(s, "/api/")
	if i < 0 {
		return parsedRef{}, false
	}
	rest := s[i+len("/api/"):]
	if j := strings.IndexByte(rest, '#'); j >= 0 {
		rest = rest[:j]
	}
	path, query, hasQuery := strings.Cut(rest, "?")
	path = strings.Trim(path, "/")
	segs := strings.Split(path, "/")
	switch {
	case hasQuery && len(segs) == 1 && segs[0] != "":
		q, err := url.ParseQuery(query)
		if err != nil || q.Get("name") == "" {
			return parsedRef{}, false
		}
		return parsedRef{kind: segs[0], name: q.Get("name")}, true
	case !hasQuery && len(segs) == 2 && segs[0] != "" && segs[1] != "":
		return parsedRef{kind: segs[0], uuid: segs[1]}, true
	}
	return parsedRef{}, false
}

// expectedKind guesses the referenced type from the field name
// (pool_ref -> pool, vrf_context_ref -> vrfcontext); "" when the guess is
// not a type the simulator knows, in which case any type is accepted.
func expectedKind(field string) string {
	if i := strings.LastIndexByte(field, '.'); i >= 0 {
		field = field[i+1:]
	}
	f := strings.TrimSuffix(strings.TrimSuffix(field, "_refs"), "_ref")
	f = strings.ReplaceAll(f, "_", "")
	if _, ok := kinds[f]; ok {
		return f
	}
	return ""
}

// resolveRefs rewrites every reference of m to the normalized
// https://host/api/<type>/<uuid> form and returns the referenced uuids.
func (s *store) resolveRefs(tenant string, m any) ([]string, *apiError) {
	var uuids []string
	seen := map[string]bool{}
	err := walkRefs(m, func(path string, ref *string) error {
		if *ref == "" {
			return nil
		}
		pr, ok := parseRef(*ref)
		if !ok {
			return errf(http.StatusBadRequest, "Invalid reference %q in field %s: expected /api/<type>/<uuid> or /api/<type>/?name=<name>", *ref, path)
		}
		if want := expectedKind(path); want != "" && want != pr.kind {
			return errf(http.StatusBadRequest, "Invalid reference %q in field %s: expected a reference to %s", *ref, path, want)
		}
		k := kinds[pr.kind]
		if k == nil {
			if pr.uuid == "" {
				return errf(http.StatusBadRequest, "Cannot resolve %q in field %s: object type %s is not supported by avisim", *ref, path, pr.kind)
			}
			*ref = s.ref(pr.kind, pr.uuid)
			return nil
		}
		var o *object
		if pr.uuid != "" {
			o = s.byUUID(tenant, k, pr.uuid)
			if o == nil {
				return errf(http.StatusBadRequest, "Invalid reference in field %s: %s object with uuid %s not found", path, pr.kind, pr.uuid)
			}
		} else {
			o = s.byName(tenant, k, pr.name)
			if o == nil {
				return errf(http.StatusBadRequest, "Invalid reference in field %s: %s object with name '%s' not found", path, pr.kind, pr.name)
			}
		}
		*ref = s.ref(k.name, o.uuid)
		if !seen[o.uuid] {
			seen[o.uuid] = true
			uuids = append(uuids, o.uuid)
		}
		return nil
	})
	if err != nil {
		return nil, err.(*apiError)
	}
	return uuids, nil
}

// uuidOfRef returns the uuid of a normalized reference.
func uuidOfRef(ref string) string {
	if i := strings.IndexByte(ref, '#'); i >= 0 {
		ref = ref[:i]
	}
	return ref[strings.LastIndexByte(ref, '/')+1:]
}

// decodeStrict decodes body into a fresh model of k, rejecting unknown
// fields with the controller's message.
func decodeStrict(k *kind, body []byte) (any, *apiError) {
	m := k.newModel()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(m); err != nil {
		msg := err.Error()
		if f, ok := strings.CutPrefix(msg, `json: unknown field "`); ok {
			return nil, errf(http.StatusBadRequest, "Unknown field '%s'", strings.TrimSuffix(f, `"`))
		}
		return nil, errf(http.StatusBadRequest, "Invalid request body: %s", strings.TrimPrefix(msg, "json: "))
	}
	if dec.More() {
		return nil, errf(http.StatusBadRequest, "Invalid request body: trailing data after the object")
	}
	return m, nil
}

// save creates (old == nil) or replaces old with model m in tenant. It
// enforces names, references, IPAM and optimistic concurrency, then indexes
// the object. Callers hold s.mu for writing.
func (s *store) save(tenant string, k *kind, m any, old *object) (*object, *apiError) {
	name := k.getStr(m, k.fName)
	if name == "" {
		return nil, errf(http.StatusBadRequest, "Field 'name' is required")
	}
	if k.name == "tenant" && tenant != adminTenant {
		return nil, errf(http.StatusForbidden, "Tenants can only be managed from the admin tenant")
	}
	if aerr := requiredFields(k, m); aerr != nil {
		return nil, aerr
	}
	if aerr := checkEnums(k.name, m); aerr != nil {
		return nil, aerr
	}
	if ps, ok := m.(*models.HTTPPolicySet); ok {
		if aerr := checkHTTPPolicySet(ps); aerr != nil {
			return nil, aerr
		}
	}
	uuid := k.getStr(m, k.fUUID)
	if old != nil {
		if uuid != "" && uuid != old.uuid {
			return nil, errf(http.StatusBadRequest, "Field 'uuid' cannot be changed (%s in the body, %s in the URL)", uuid, old.uuid)
		}
		uuid = old.uuid
		if k.name == "tenant" && old.name == adminTenant && name != adminTenant {
			return nil, errf(http.StatusForbidden, "The admin tenant cannot be renamed")
		}
		if lm := k.getStr(m, k.fLastMod); lm != "" && lm != k.getStr(old.model, k.fLastMod) {
			return nil, errf(http.StatusPreconditionFailed, "Concurrent Update Error: _last_modified %s does not match the current %s; read the object again", lm, k.getStr(old.model, k.fLastMod))
		}
	} else if uuid != "" {
		if s.all[uuid] != nil {
			return nil, errf(http.StatusConflict, "Object with uuid %s already exists", uuid)
		}
	} else {
		uuid = newUUID(k.name)
	}

	// Tenant and cloud defaults, as the controller fills them in.
	tenantObj := s.byName(adminTenant, kinds["tenant"], tenant)
	if k.fTenantRef >= 0 {
		if k.getStr(m, k.fTenantRef) == "" && tenantObj != nil {
			k.setStr(m, k.fTenantRef, "/api/tenant/"+tenantObj.uuid)
		}
	}
	if k.fCloudRef >= 0 && k.name != "cloud" && k.getStr(m, k.fCloudRef) == "" {
		if c := s.byName(tenant, kinds["cloud"], defaultCloud); c != nil {
			k.setStr(m, k.fCloudRef, "/api/cloud/"+c.uuid)
		}
	}
	refs, aerr := s.resolveRefs(tenant, m)
	if aerr != nil {
		return nil, aerr
	}
	switch o := m.(type) {
	case *models.Cloud:
		// New clouds take the system's default tier.
		if str(o.LicenseTier) == "" {
			o.LicenseTier = ptr(s.systemTier())
		}
	case *models.ServiceEngineGroup:
		if str(o.LicenseTier) == "" {
			o.LicenseTier = ptr(s.cloudTier(uuidOfRef(str(o.CloudRef))))
		}
	case *models.VirtualService:
		refs = s.virtualServiceDefaults(tenant, o, s.tierOf(k, m), refs)
	}
	if aerr := s.checkLicense(k, m, name); aerr != nil {
		return nil, aerr
	}
	if k.fTenantRef >= 0 && tenantObj != nil && uuidOfRef(k.getStr(m, k.fTenantRef)) != tenantObj.uuid {
		return nil, errf(http.StatusBadRequest, "tenant_ref %s does not match the tenant of the request (%s)", k.getStr(m, k.fTenantRef), tenant)
	}

	t := s.table(tenant, k)
	if t == nil {
		return nil, errf(http.StatusBadRequest, "Tenant '%s' not found", tenant)
	}
	if dup := t.byName[name]; dup != nil && dup.uuid != uuid {
		return nil, errf(http.StatusConflict, "%s with this Name and Tenant ref already exists.", k.display)
	}
	if k.provider && tenant != adminTenant {
		if dup := s.byName(adminTenant, k, name); dup != nil && dup.uuid != uuid {
			return nil, errf(http.StatusConflict, "%s with this Name already exists in the admin tenant.", k.display)
		}
	}

	obj := &object{kind: k, tenant: tenant, uuid: uuid, name: name, model: m, refs: refs}
	if k.name == "vsvip" {
		if aerr := s.allocate(tenant, obj, old); aerr != nil {
			return nil, aerr
		}
	}

	k.setStr(m, k.fUUID, uuid)
	k.setStr(m, k.fURL, s.ref(k.name, uuid))
	k.setStr(m, k.fLastMod, s.nextLastModified())

	// Commit: nothing below can fail.
	if old != nil {
		s.unlink(old)
		if old.name != name {
			delete(t.byName, old.name)
		}
	}
	s.gen++
	t.byUUID[uuid] = obj
	t.byName[name] = obj
	s.all[uuid] = obj
	s.link(obj)
	if k.name == "tenant" && old != nil && old.name != name {
		// Renaming a tenant moves its objects; X-Avi-Tenant uses the name.
		tm := s.tenants[old.name]
		delete(s.tenants, old.name)
		s.tenants[name] = tm
		for _, tt := range tm {
			for _, o := range tt.byUUID {
				o.tenant = name
			}
		}
	}
	if k.name == "tenant" && s.tenants[name] == nil {
		s.tenants[name] = map[string]*table{}
	}
	s.notify()
	return obj, nil
}

func (s *store) linkRefs(from string, refs []string) {
	for _, r := range refs {
		set := s.referrers[r]
		if set == nil {
			set = map[string]struct{}{}
			s.referrers[r] = set
		}
		set[from] = struct{}{}
	}
}

func (s *store) unlinkRefs(from string, refs []string) {
	for _, r := range refs {
		if set := s.referrers[r]; set != nil {
			delete(set, from)
			if len(set) == 0 {
				delete(s.referrers, r)
			}
		}
	}
}

func (s *store) link(o *object) {
	s.linkRefs(o.uuid, o.refs)
	for _, a := range o.ips {
		nm := s.used[a.network]
		if nm == nil {
			nm = map[uint32]string{}
			s.used[a.network] = nm
		}
		nm[a.ip] = o.uuid
	}
}

func (s *store) unlink(o *object) {
	s.unlinkRefs(o.uuid, o.refs)
	for _, a := range o.ips {
		if nm := s.used[a.network]; nm != nil && nm[a.ip] == o.uuid {
			delete(nm, a.ip)
		}
	}
}

// remove deletes o unless another object refers to it.
func (s *store) remove(o *object) *apiError {
	if set := s.referrers[o.uuid]; len(set) > 0 {
		var names []string
		for u := range set {
			if r := s.all[u]; r != nil && r.uuid != o.uuid {
				names = append(names, fmt.Sprintf("'%s %s'", r.kind.display, r.name))
			} else if u == sysconfUUID {
				names = append(names, "'SystemConfiguration'")
			}
		}
		if len(names) > 0 {
			sort.Strings(names)
			return errf(http.StatusConflict, "Cannot delete, object is referred by: [%s]", strings.Join(names, ", "))
		}
	}
	s.unlink(o)
	s.gen++
	t := s.tenants[o.tenant][o.kind.name]
	delete(t.byUUID, o.uuid)
	delete(t.byName, o.name)
	delete(s.all, o.uuid)
	delete(s.referrers, o.uuid)
	if o.kind.name == "tenant" {
		delete(s.tenants, o.name)
	}
	s.notify()
	return nil
}

// watch returns a channel that receives (coalesced, never blocking the
// writer) after every committed write, and a function to stop watching.
func (s *store) watch() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	s.watchMu.Lock()
	if s.watchers == nil {
		s.watchers = map[chan struct{}]struct{}{}
	}
	s.watchers[ch] = struct{}{}
	s.watchMu.Unlock()
	return ch, func() {
		s.watchMu.Lock()
		delete(s.watchers, ch)
		s.watchMu.Unlock()
	}
}

func (s *store) notify() {
	s.watchMu.Lock()
	for ch := range s.watchers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	s.watchMu.Unlock()
}

// render marshals o for a response. includeName appends "#name" to every
// reference (and to url), as ?include_name does on the controller.
func (s *store) render(o *object, includeName bool, fields []string) ([]byte, error) {
	m := o.model
	if includeName {
		b, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		cp := o.kind.newModel()
		if err := json.Unmarshal(b, cp); err != nil {
			return nil, err
		}
		_ = walkRefs(cp, func(_ string, ref *string) error {
			if r := s.all[uuidOfRef(*ref)]; r != nil {
				*ref += "#" + r.name
			}
			return nil
		})
		o.kind.setStr(cp, o.kind.fURL, s.ref(o.kind.name, o.uuid)+"#"+o.name)
		m = cp
	}
	if len(fields) == 0 {
		return json.Marshal(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var full map[string]json.RawMessage
	if err := json.Unmarshal(b, &full); err != nil {
		return nil, err
	}
	// Some fields (name, url, uuid) are always returned.
	out := map[string]json.RawMessage{"uuid": full["uuid"], "url": full["url"], "name": full["name"]}
	for _, f := range fields {
		if v, ok := full[f]; ok {
			out[f] = v
		}
	}
	return json.Marshal(out)
}

// writable returns the object a write (verb: "modified", "deleted") may
// change: it must exist and belong to the request's tenant, not merely be
// visible from it as a shared admin object.
func (s *store) writable(tenant string, k *kind, uuid, verb string) (*object, *apiError) {
	o := s.byUUID(tenant, k, uuid)
	if o == nil {
		return nil, errf(http.StatusNotFound, "%s object with uuid %s not found", k.name, uuid)
	}
	if o.tenant != tenant {
		return nil, errf(http.StatusForbidden, "%s %s belongs to tenant %s and cannot be %s from tenant %s", k.display, o.name, o.tenant, verb, tenant)
	}
	return o, nil
}
