package rules

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/ownership"
)

// ClaimKey is what the caches index a claim by: the Avi name without the
// "<cluster>" prefix, so the index needs no settings.
func ClaimKey(cluster, name string) string { return strings.TrimPrefix(name, cluster) }

// IngressClaims lists the Avi names an Ingress's secure hosts will hold:
// the SNI child virtual service "<cluster>--<host>" of each tls[] host. A
// host without a dot ("team-web") meets Service team/web there.
func IngressClaims(cluster string, ing *networkingv1.Ingress) []Claim {
	var out []Claim
	for _, t := range ing.Spec.TLS {
		for _, h := range t.Hosts {
			c := Claim{cluster + "--" + h, ownership.OwnerL7}
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

// checkClaims refuses claims another owner holds: another Service or
// Ingress of this cluster that claims the same name, or an object on the
// controller (a VsVip of that name in tenant) held by another owner, another
// cluster or another tool. what names the claim in messages ("Avi name",
// "SNI virtual service name") and fix says what to do.
func checkClaims(res *Result, p *field.Path, value string, claims []Claim, tenant, self, what, fix string, env Env) {
	for _, c := range claims {
		holder, err := claimHolder(c, self, env)
		if err != nil {
			res.Warn(couldNotCheck(fmt.Sprintf("whether %s %q is free", what, c.Name), err))
			continue
		}
		if holder == "" {
			holder = controllerHolder(c, tenant, env)
		}
		if holder != "" {
			res.Errors = append(res.Errors, field.Invalid(p, value,
				fmt.Sprintf("its %s %q is already used by %s (Avi names join namespace and name with \"-\", so different objects can meet); %s",
					what, c.Name, holder, fix)))
			return
		}
	}
}

// claimHolder names the other Service or Ingress of this cluster that
// claims c.Name for another owner ("" when none); only objects vipgate
// serves (of its classes, in selected namespaces) hold a name. self is
// "<kind> ns/name" of the object being checked, which never conflicts with
// itself.
func claimHolder(c Claim, self string, env Env) (string, error) {
	cluster := env.settings().AKOSettings.ClusterName
	key := ClaimKey(cluster, c.Name)
	svcs, err := env.lookups().ServicesByAviName(env.ctx(), key)
	if err != nil {
		return "", err
	}
	var holders []string
	for _, o := range svcs {
		name := "Service " + o.Namespace + "/" + o.Name
		if name == self || o.DeletionTimestamp != nil {
			continue
		}
		served, err := servedService(o, env)
		if err != nil {
			return "", err
		}
		if !served {
			continue
		}
		for _, oc := range ServiceClaims(cluster, o) {
			if oc.Name == c.Name && oc.Owner != c.Owner {
				holders = append(holders, name)
			}
		}
	}
	ings, err := env.lookups().IngressesByAviName(env.ctx(), key)
	if err != nil {
		return "", err
	}
	for _, o := range ings {
		name := "Ingress " + o.Namespace + "/" + o.Name
		if name == self || o.DeletionTimestamp != nil {
			continue
		}
		served, err := namespaceServed(o.Namespace, env)
		if err != nil {
			return "", err
		}
		if !served {
			continue
		}
		for _, oc := range IngressClaims(cluster, o) {
			if oc.Name == c.Name && oc.Owner != c.Owner {
				holders = append(holders, name)
			}
		}
	}
	slices.Sort(holders)
	return listNames(slices.Compact(holders)), nil
}

// controllerHolder names who holds a VsVip called c.Name in tenant on the
// controller when it is not c's owner of this cluster ("" when free or
// c's own). A VsVip written before vipgate marked ownership, with this
// cluster's created_by, counts as its own. Without a live inventory it
// says nothing: the applier refuses such a write anyway.
func controllerHolder(c Claim, tenant string, env Env) string {
	inv, _ := env.liveInventory()
	if inv == nil {
		return ""
	}
	s := env.settings()
	for _, h := range inv.VsVips[c.Name] {
		if h.Tenant != tenant {
			continue
		}
		switch {
		case adoptedFromAKO(h, s):
			// AKO's object of this very name: the owner adopts it.
		case h.CreatedBy != s.CreatedBy():
			return describeHolder(h, s)
		case h.ClusterID != "" && s.ClusterID != "" && h.ClusterID != s.ClusterID:
			return fmt.Sprintf("VsVip %q of another cluster named %q on the controller (identity %s); give each cluster its own AKOSettings.clusterName", h.VsVip, s.AKOSettings.ClusterName, h.ClusterID)
		case h.Owner != "" && h.Owner != c.Owner:
			return fmt.Sprintf("VsVip %q of %s on the controller", h.VsVip, h.Owner)
		}
	}
	return ""
}

func describeHolder(h inventory.Holder, s *config.Settings) string {
	if h.FromAKO(s.AKOSettings.ClusterName) {
		return fmt.Sprintf("VsVip %q on the controller (%s)", h.VsVip, akoNotAdopted)
	}
	if h.CreatedBy == "" {
		return fmt.Sprintf("VsVip %q on the controller (no created_by), which this cluster does not manage", h.VsVip)
	}
	return fmt.Sprintf("VsVip %q on the controller (created_by %q), which this cluster does not manage", h.VsVip, h.CreatedBy)
}

// akoNotAdopted says why an AKO VsVip of this clusterName is someone else's.
const akoNotAdopted = "written by AKO for this clusterName; AKOSettings.adoptAKOObjects is false, so this cluster does not manage it"

// adoptedFromAKO reports whether a VsVip is AKO's for this cluster and
// AKO's objects are adopted: it is then this cluster's, like its own.
func adoptedFromAKO(h inventory.Holder, s *config.Settings) bool {
	return s.AdoptFromAKO() != "" && h.FromAKO(s.AKOSettings.ClusterName)
}

// checkServiceClaims refuses a Service whose Avi names another owner holds.
func checkServiceClaims(res *Result, svc *corev1.Service, ns *corev1.Namespace, env Env) {
	s := env.settings()
	p, value, fix := field.NewPath("metadata", "name"), svc.Name, "rename this Service, or that one"
	if key := svc.Annotations[AnnSharedVIP]; key != "" {
		p, value, fix = annotationPath(AnnSharedVIP), key, "pick another shared-VIP key (or rename the Service)"
	}
	checkClaims(res, p, value, ServiceClaims(s.AKOSettings.ClusterName, svc), ownership.TenantFor(ns, s),
		"Service "+svc.Namespace+"/"+svc.Name, "Avi name", fix, env)
}
