package avisim

import (
	"reflect"
	"strings"
	"sync"

	"github.com/vmware/alb-sdk/go/models"
)

// kind describes one Avi object type the simulator stores. Everything the
// generic store needs to know about a type is derived by reflection from the
// alb-sdk model once, so adding a type is one line in kindList.
type kind struct {
	name    string       // URL segment, e.g. "vsvip"
	display string       // model name used in messages, e.g. "VsVip"
	typ     reflect.Type // model struct type (not pointer)
	// provider kinds live in the admin tenant and are visible from every
	// tenant, like clouds and networks on the real controller.
	provider bool

	// Indexes of the common fields; -1 when the model lacks the field.
	fUUID, fName, fURL, fLastMod, fTenantRef, fCloudRef, fCreatedBy, fMarkers int

	// fields maps the JSON name of every top-level field to its index, for
	// field filters (?type=...) and ?fields=.
	fields map[string]int
	// required are the top-level fields other than name that the model
	// marks as required (alb-sdk leaves omitempty off exactly those) and
	// for which the controller has no default: leaving one out is a 400.
	required []int
	// defaults are required fields the controller fills in when the client
	// leaves them out (Cloud.vtype is CLOUD_NONE, ...), by field index.
	defaults map[int]string
}

// kindList is the set of object types served under /api/<type>. The extra
// profile types exist so that virtual services and pools can reference the
// System-* defaults the way AKO does.
var kindList = []struct {
	name     string
	model    any
	provider bool
	defaults map[string]string // required field -> the controller's default
}{
	{"tenant", models.Tenant{}, true, nil},
	{"cloud", models.Cloud{}, true, map[string]string{"vtype": "CLOUD_NONE"}},
	{"vrfcontext", models.VrfContext{}, true, nil},
	{"network", models.Network{}, true, nil},
	{"serviceenginegroup", models.ServiceEngineGroup{}, true, nil},
	{"ipamdnsproviderprofile", models.IPAMDNSProviderProfile{}, true, nil},
	{"vsvip", models.VsVip{}, false, nil},
	{"pool", models.Pool{}, false, nil},
	{"poolgroup", models.PoolGroup{}, false, nil},
	{"virtualservice", models.VirtualService{}, false, nil},
	{"httppolicyset", models.HTTPPolicySet{}, false, nil},
	{"l4policyset", models.L4PolicySet{}, false, nil},
	{"sslkeyandcertificate", models.SSLKeyAndCertificate{}, false, nil},
	{"applicationprofile", models.ApplicationProfile{}, true, nil},
	{"networkprofile", models.NetworkProfile{}, true, nil},
	{"healthmonitor", models.HealthMonitor{}, true, nil},
	{"sslprofile", models.SSLProfile{}, true, nil},
	{"analyticsprofile", models.AnalyticsProfile{}, true, nil},
	{"applicationpersistenceprofile", models.ApplicationPersistenceProfile{}, true, map[string]string{"persistence_type": "PERSISTENCE_TYPE_CLIENT_IP_ADDRESS"}},
	{"pkiprofile", models.PKIprofile{}, true, nil},
	{"wafpolicy", models.WafPolicy{}, true, map[string]string{"mode": "WAF_MODE_DETECTION_ONLY"}},
	{"wafprofile", models.WafProfile{}, true, nil},
	{"errorpageprofile", models.ErrorPageProfile{}, true, nil},
	{"errorpagebody", models.ErrorPageBody{}, true, nil},
	{"vsdatascriptset", models.VSDataScriptSet{}, true, nil},
	{"stringgroup", models.StringGroup{}, true, map[string]string{"type": "SG_TYPE_STRING"}},
	{"protocolparser", models.ProtocolParser{}, true, nil},
	{"icapprofile", models.IcapProfile{}, true, nil},
	{"ssopolicy", models.SSOPolicy{}, true, nil},
	{"authprofile", models.AuthProfile{}, true, nil},
	{"securitypolicy", models.SecurityPolicy{}, true, nil},
	{"networksecuritypolicy", models.NetworkSecurityPolicy{}, true, nil},
	{"botdetectionpolicy", models.BotDetectionPolicy{}, true, nil},
	{"trafficcloneprofile", models.TrafficCloneProfile{}, true, nil},
}

// kinds maps the URL segment to its kind.
var kinds = func() map[string]*kind {
	m := make(map[string]*kind, len(kindList))
	for _, k := range kindList {
		t := reflect.TypeOf(k.model)
		kd := &kind{name: k.name, display: t.Name(), typ: t, provider: k.provider}
		kd.fUUID = fieldIndex(t, "uuid")
		kd.fName = fieldIndex(t, "name")
		kd.fURL = fieldIndex(t, "url")
		kd.fLastMod = fieldIndex(t, "_last_modified")
		kd.fTenantRef = fieldIndex(t, "tenant_ref")
		kd.fCloudRef = fieldIndex(t, "cloud_ref")
		kd.fCreatedBy = fieldIndex(t, "created_by")
		kd.fMarkers = fieldIndex(t, "markers")
		kd.fields = map[string]int{}
		kd.defaults = map[int]string{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := jsonName(f)
			kd.fields[name] = i
			if name == "name" || strings.Contains(f.Tag.Get("json"), ",omitempty") {
				continue
			}
			if d, ok := k.defaults[name]; ok {
				kd.defaults[i] = d
			} else {
				kd.required = append(kd.required, i)
			}
		}
		m[k.name] = kd
	}
	return m
}()

// KindNames lists the object types the simulator serves, for documentation
// and for callers that iterate over everything (e.g. a cleanup in tests).
func KindNames() []string {
	out := make([]string, 0, len(kindList))
	for _, k := range kindList {
		out = append(out, k.name)
	}
	return out
}

func jsonName(f reflect.StructField) string {
	tag := f.Tag.Get("json")
	if tag == "" {
		return f.Name
	}
	name, _, _ := strings.Cut(tag, ",")
	return name
}

func fieldIndex(t reflect.Type, json string) int {
	for i := 0; i < t.NumField(); i++ {
		if jsonName(t.Field(i)) == json {
			return i
		}
	}
	return -1
}

// newModel returns a pointer to a zero model of the kind.
func (k *kind) newModel() any { return reflect.New(k.typ).Interface() }

func (k *kind) getStr(m any, idx int) string {
	if idx < 0 {
		return ""
	}
	f := reflect.ValueOf(m).Elem().Field(idx)
	if f.IsNil() {
		return ""
	}
	return f.Elem().String()
}

func (k *kind) setStr(m any, idx int, v string) {
	if idx < 0 {
		return
	}
	f := reflect.ValueOf(m).Elem().Field(idx)
	if v == "" {
		f.Set(reflect.Zero(f.Type()))
		return
	}
	f.Set(reflect.ValueOf(&v))
}

// refPlan says, for one struct type, which fields hold references and which
// nested fields may contain more. Computed once per type because the models
// are large (VirtualService has ~150 fields) and most of them never hold a
// reference.
type refPlan struct {
	fields []refField
}

type refField struct {
	idx  int
	name string
	op   int // opRef, opRefs, opStruct, opStructSlice
}

const (
	opRef = iota
	opRefs
	opStruct
	opStructSlice
)

var (
	planMu    sync.Mutex
	plans     = map[reflect.Type]*refPlan{}
	planCache sync.Map // reflect.Type -> *refPlan, lock-free read path
)

// planFor returns the reference plan of struct type t; a nil plan means no
// reference is reachable from t.
func planFor(t reflect.Type) *refPlan {
	if p, ok := planCache.Load(t); ok {
		return p.(*refPlan)
	}
	planMu.Lock()
	defer planMu.Unlock()
	p := planLocked(t, map[reflect.Type]bool{})
	planCache.Store(t, p)
	return p
}

func planLocked(t reflect.Type, visiting map[reflect.Type]bool) *refPlan {
	if p, ok := plans[t]; ok {
		return p
	}
	if visiting[t] {
		// A recursive type: assume it may hold references; the real plan
		// is stored when the outer call finishes.
		return &refPlan{}
	}
	visiting[t] = true
	var p refPlan
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := jsonName(f)
		ft := f.Type
		switch {
		case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.String && strings.HasSuffix(name, "_ref"):
			p.fields = append(p.fields, refField{i, name, opRef})
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.String && strings.HasSuffix(name, "_refs"):
			p.fields = append(p.fields, refField{i, name, opRefs})
		case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct:
			if planLocked(ft.Elem(), visiting) != nil {
				p.fields = append(p.fields, refField{i, name, opStruct})
			}
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Pointer && ft.Elem().Elem().Kind() == reflect.Struct:
			if planLocked(ft.Elem().Elem(), visiting) != nil {
				p.fields = append(p.fields, refField{i, name, opStructSlice})
			}
		}
	}
	delete(visiting, t)
	if len(p.fields) == 0 {
		plans[t] = nil
		return nil
	}
	plans[t] = &p
	return &p
}

// walkRefs calls fn for every reference string reachable from the model
// pointer m, with a path for error messages. fn may rewrite *ref.
func walkRefs(m any, fn func(path string, ref *string) error) error {
	v := reflect.ValueOf(m).Elem()
	return walkValue(v, "", fn)
}

func walkValue(v reflect.Value, prefix string, fn func(string, *string) error) error {
	p := planFor(v.Type())
	if p == nil {
		return nil
	}
	for _, f := range p.fields {
		fv := v.Field(f.idx)
		path := f.name
		if prefix != "" {
			path = prefix + "." + f.name
		}
		switch f.op {
		case opRef:
			if !fv.IsNil() {
				if err := fn(path, fv.Interface().(*string)); err != nil {
					return err
				}
			}
		case opRefs:
			for i := 0; i < fv.Len(); i++ {
				if err := fn(path, fv.Index(i).Addr().Interface().(*string)); err != nil {
					return err
				}
			}
		case opStruct:
			if !fv.IsNil() {
				if err := walkValue(fv.Elem(), path, fn); err != nil {
					return err
				}
			}
		case opStructSlice:
			for i := 0; i < fv.Len(); i++ {
				e := fv.Index(i)
				if !e.IsNil() {
					if err := walkValue(e.Elem(), path, fn); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}
