package loader

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/go-logr/logr"

	"github.com/vipgate/vipgate/avi"
	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/avi/session"
)

// refFields is what the inventory reads of each object rule CRDs may name:
// the name, its tenant, created_by and the one field that decides where it
// is usable (refKindField). Asking for only these keeps a refresh light even
// with thousands of policy sets and certificates.
var refKindField = map[string]string{
	inventory.TypeApplicationProfile:   "type",
	inventory.TypeSSLKeyAndCertificate: "type",
	inventory.TypeSSLProfile:           "type",
	inventory.TypeHealthMonitor:        "type",
	inventory.TypePersistenceProfile:   "persistence_type",
	inventory.TypeNetworkProfile:       "profile",
}

// refKindDefault is the controller's value of the deciding field when an
// object leaves it out (the swagger's defaults): what the controller acts on.
var refKindDefault = map[string]string{
	inventory.TypeSSLProfile:           "SSL_PROFILE_TYPE_APPLICATION",
	inventory.TypeSSLKeyAndCertificate: inventory.CertTypeVirtualService,
	inventory.TypePersistenceProfile:   "PERSISTENCE_TYPE_CLIENT_IP_ADDRESS",
}

// refLite is one listed object; Profile carries a network profile's type.
type refLite struct {
	Name            string `json:"name"`
	TenantRef       string `json:"tenant_ref"`
	CreatedBy       string `json:"created_by"`
	Type            string `json:"type"`
	PersistenceType string `json:"persistence_type"`
	Profile         *struct {
		Type string `json:"type"`
	} `json:"profile"`
}

func (r refLite) kind() string {
	switch {
	case r.Profile != nil:
		return r.Profile.Type
	case r.PersistenceType != "":
		return r.PersistenceType
	}
	return r.Type
}

// loadRefs reads every type of inventory.RefTypes, across tenants when the
// account may, else in its own tenant (which also lists the admin tenant's
// shared objects). A type the controller refuses to list (a 4xx: RBAC, an
// object type this controller version lacks) is left out of snap.Refs, so
// rules naming it warn instead of refusing; an unreachable controller fails
// the load as for the other types.
func loadRefs(ctx context.Context, c avi.Client, snap *inventory.Snapshot) error {
	snap.Refs = map[string]inventory.RefTable{}
	for _, typ := range inventory.RefTypes {
		t, err := loadRefType(ctx, c, typ)
		if err != nil {
			if session.IsRetryable(err) {
				return fmt.Errorf("reading %s: %w", typ, err)
			}
			logr.FromContextOrDiscard(ctx).Info("cannot list a type rule CRDs may name; their checks fail open", "type", typ, "error", session.Message(err))
			continue
		}
		snap.Refs[typ] = t
	}
	return nil
}

// loadRefType lists one type into a table, all tenants first.
func loadRefType(ctx context.Context, c avi.Client, typ string) (inventory.RefTable, error) {
	fields := "name,tenant_ref,created_by"
	if f := refKindField[typ]; f != "" {
		fields += "," + f
	}
	q := url.Values{"include_name": {"true"}, "fields": {fields}}
	var t inventory.RefTable
	collect := func(tenant string) error {
		t = inventory.RefTable{}
		return c.List(ctx, typ, q, tenant, avi.PageSize, func(raw json.RawMessage) error {
			var o refLite
			if err := json.Unmarshal(raw, &o); err != nil {
				return fmt.Errorf("decoding %s: %w", typ, err)
			}
			tn := inventory.RefName(o.TenantRef)
			if tn == "" {
				tn = c.Tenant()
			}
			k := o.kind()
			if k == "" {
				k = refKindDefault[typ]
			}
			t.Add(tn, o.Name, inventory.RefObject{Kind: k, CreatedBy: o.CreatedBy})
			return nil
		})
	}
	err := collect("*")
	if err == nil || session.IsRetryable(err) {
		return t, err
	}
	return t, collect("")
}
