package avisim

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"

	"github.com/vmware/alb-sdk/go/models"
)

// includeName reports whether the query asks for "#name" on references.
// The controller treats the key's presence as the request, so AKO's bare
// "?include_name&name=..." counts as much as "include_name=true".
func includeName(q url.Values) bool {
	_, ok := q["include_name"]
	return ok
}

// unimplemented are query parameters the controller documents that avisim
// does not implement; they are refused rather than ignored, because an
// ignored filter returns every object and hides the client's mistake.
var unimplemented = map[string]bool{
	"search": true, "isearch": true, "exclude": true, "sort": true, "limit_by": true, "join_subresources": true,
}

// checkObjectParams accepts the query of a call on one object (GET, PUT,
// PATCH, DELETE /api/<type>/<uuid>, POST /api/<type>).
func checkObjectParams(q url.Values, extra ...string) *apiError {
	for key := range q {
		switch key {
		case "include_name", "fields", "skip_default", "name":
			continue
		}
		if contains(extra, key) {
			continue
		}
		if unimplemented[key] {
			return errf(http.StatusBadRequest, "Query parameter '%s' is not implemented by avisim", key)
		}
		return errf(http.StatusBadRequest, "Unknown query parameter '%s'", key)
	}
	return nil
}

// filters compiles a collection query into a predicate. Besides the
// controller's collection options (name, name.contains, name.icontains,
// name.in, uuid, uuid.in, refers_to, referred_by, cloud, cloud_uuid,
// label_key/label_value) any top-level field of the type filters by value:
// created_by=x, type=VS_TYPE_VH_PARENT, <field>.contains/.icontains/.in,
// and a reference field by the referenced object's name or uuid
// (cloud_ref.name, vrf_context_ref.uuid). Anything else is a 400. Callers
// hold the store's read lock.
func (s *Sim) filters(tenant string, k *kind, q url.Values) (func(*object) bool, *apiError) {
	st := s.store
	var preds []func(*object) bool
	keys := make([]string, 0, len(q))
	for key := range q {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		v := q.Get(key)
		switch key {
		case "page", "page_size", "include_name", "fields", "skip_default", "name":
			// Paging, rendering and name (answered from the name index).
		case "name.contains":
			preds = append(preds, func(o *object) bool { return strings.Contains(o.name, v) })
		case "name.icontains":
			lv := strings.ToLower(v)
			preds = append(preds, func(o *object) bool { return strings.Contains(strings.ToLower(o.name), lv) })
		case "name.in":
			set := splitSet(v)
			preds = append(preds, func(o *object) bool { return set[o.name] })
		case "uuid", "uuid.in":
			set := splitSet(v)
			preds = append(preds, func(o *object) bool { return set[o.uuid] })
		case "cloud", "cloud_uuid":
			if k.fCloudRef < 0 {
				return nil, errf(http.StatusBadRequest, "Cannot filter %s by %s: the type has no cloud_ref", k.name, key)
			}
			want := v
			if key == "cloud" {
				want = ""
				if c := st.byName(tenant, kinds["cloud"], v); c != nil {
					want = c.uuid
				}
			}
			preds = append(preds, func(o *object) bool {
				return want != "" && uuidOfRef(o.kind.getStr(o.model, o.kind.fCloudRef)) == want
			})
		case "refers_to":
			target := v
			if _, u, ok := strings.Cut(v, ":"); ok {
				target = u
			}
			set := st.referrers[target]
			preds = append(preds, func(o *object) bool { _, ok := set[o.uuid]; return ok })
		case "referred_by":
			src := v
			if _, u, ok := strings.Cut(v, ":"); ok {
				src = u
			}
			set := map[string]bool{}
			if o := st.all[src]; o != nil {
				for _, r := range o.refs {
					set[r] = true
				}
			}
			preds = append(preds, func(o *object) bool { return set[o.uuid] })
		case "label_key":
			p, aerr := labelPred(k, v, q["label_value"])
			if aerr != nil {
				return nil, aerr
			}
			preds = append(preds, p)
		case "label_value":
			if _, ok := q["label_key"]; !ok {
				return nil, errf(http.StatusBadRequest, "label_value needs label_key")
			}
		default:
			if unimplemented[key] {
				return nil, errf(http.StatusBadRequest, "Query parameter '%s' is not implemented by avisim", key)
			}
			p, aerr := st.fieldPred(k, key, v)
			if aerr != nil {
				return nil, aerr
			}
			preds = append(preds, p)
		}
	}
	return func(o *object) bool {
		for _, p := range preds {
			if !p(o) {
				return false
			}
		}
		return true
	}, nil
}

func splitSet(v string) map[string]bool {
	set := map[string]bool{}
	for _, x := range strings.Split(v, ",") {
		set[x] = true
	}
	return set
}

// labelPred matches objects whose markers carry key (with one of values,
// when given), or whose labels (SE groups) do.
func labelPred(k *kind, key string, values []string) (func(*object) bool, *apiError) {
	want := map[string]bool{}
	for _, v := range values {
		want[v] = true
	}
	fLabels, hasLabels := k.fields["labels"]
	if hasLabels && k.typ.Field(fLabels).Type != reflect.TypeOf([]*models.KeyValue(nil)) {
		hasLabels = false
	}
	if k.fMarkers < 0 && !hasLabels {
		return nil, errf(http.StatusBadRequest, "Cannot filter %s by label_key: the type has neither markers nor labels", k.name)
	}
	return func(o *object) bool {
		v := reflect.ValueOf(o.model).Elem()
		if k.fMarkers >= 0 {
			for _, mk := range v.Field(k.fMarkers).Interface().([]*models.RoleFilterMatchLabel) {
				if mk == nil || str(mk.Key) != key {
					continue
				}
				if len(want) == 0 {
					return true
				}
				for _, val := range mk.Values {
					if want[val] {
						return true
					}
				}
			}
		}
		if hasLabels {
			for _, kv := range v.Field(fLabels).Interface().([]*models.KeyValue) {
				if kv != nil && str(kv.Key) == key && (len(want) == 0 || want[str(kv.Value)]) {
					return true
				}
			}
		}
		return false
	}, nil
}

// fieldPred filters on a top-level field: "<field>" (equality),
// "<field>.contains", "<field>.icontains", "<field>.in", and for reference
// fields "<field>.name" and "<field>.uuid".
func (st *store) fieldPred(k *kind, key, v string) (func(*object) bool, *apiError) {
	field, op, _ := strings.Cut(key, ".")
	idx, ok := k.fields[field]
	if !ok {
		return nil, errf(http.StatusBadRequest, "Unknown query parameter '%s' (%s has no field '%s')", key, k.name, field)
	}
	ft := k.typ.Field(idx).Type
	if ft.Kind() != reflect.Pointer || !isScalar(ft.Elem().Kind()) {
		return nil, errf(http.StatusBadRequest, "Query parameter '%s': filtering on field '%s' of %s is not supported by avisim", key, field, k.name)
	}
	value := func(o *object) (string, bool) {
		f := reflect.ValueOf(o.model).Elem().Field(idx)
		if f.IsNil() {
			return "", false
		}
		return fmt.Sprint(f.Elem().Interface()), true
	}
	isRef := strings.HasSuffix(field, "_ref")
	switch {
	case op == "":
		if isRef {
			want := uuidOfRef(v)
			return func(o *object) bool { got, ok := value(o); return ok && uuidOfRef(got) == want }, nil
		}
		return func(o *object) bool { got, ok := value(o); return ok && got == v }, nil
	case op == "contains" && !isRef:
		return func(o *object) bool { got, _ := value(o); return strings.Contains(got, v) }, nil
	case op == "icontains" && !isRef:
		lv := strings.ToLower(v)
		return func(o *object) bool { got, _ := value(o); return strings.Contains(strings.ToLower(got), lv) }, nil
	case op == "in" && !isRef:
		set := splitSet(v)
		return func(o *object) bool { got, ok := value(o); return ok && set[got] }, nil
	case op == "uuid" && isRef:
		return func(o *object) bool { got, ok := value(o); return ok && uuidOfRef(got) == v }, nil
	case op == "name" && isRef:
		return func(o *object) bool {
			got, ok := value(o)
			if !ok {
				return false
			}
			r := st.all[uuidOfRef(got)]
			return r != nil && r.name == v
		}, nil
	}
	return nil, errf(http.StatusBadRequest, "Unknown query parameter '%s'", key)
}

func isScalar(k reflect.Kind) bool {
	switch k {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return true
	}
	return false
}
