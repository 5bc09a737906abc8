package apply

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-logr/logr"

	"github.com/vipgate/vipgate/avi/model"
)

// Adoption of AKO's objects. A cluster switching from AKO keeps its
// clusterName, so AKO's objects carry vipgate's names: created_by
// "ako-<cluster>" (VsVips, which have no created_by, only AKO's clustername
// marker). With AdoptFrom set, the applier treats them as the owner's: a
// desired object of that name updates AKO's in place (one write, which
// brings vipgate's markers; a VsVip keeps its addresses), and AKO objects
// the owner does not want any more (an L4PolicySet, a shared parent's
// datascript and pool group) are deleted once nothing refers to them.

// fromAKO reports whether c is AKO's object for this cluster, to be adopted.
func (a *Applier) fromAKO(c *current) bool {
	return a.akoEntry(c.typ, c.createdBy, c.clusterName)
}

// akoEntry is fromAKO on the parts the mirror keeps.
func (a *Applier) akoEntry(typ, createdBy, clusterName string) bool {
	if a.AdoptFrom == "" {
		return false
	}
	return createdBy == a.AdoptFrom || (typ == model.TypeVsVip && createdBy == "" && clusterName != "" && clusterName == a.Cluster)
}

// refuse says why owner must not change or delete c ("" when it may). AKO's
// objects are the owner's unless their Namespace marker names another
// namespace (a name two Kubernetes objects meet on, as with vipgate's).
func (a *Applier) refuse(owner Owner, c *current) string {
	if !a.fromAKO(c) {
		if a.AdoptFrom == "" && a.Cluster != "" && (c.createdBy == "ako-"+a.Cluster || c.typ == model.TypeVsVip && c.createdBy == "" && c.clusterName == a.Cluster) {
			return fmt.Sprintf("AKO created this object for clusterName %s and AKOSettings.adoptAKOObjects is false; vipgate leaves it alone", a.Cluster)
		}
		return owner.refuse(c)
	}
	if ns := markerOf(c.raw, "Namespace"); ns != "" && owner.Namespace != "" && ns != owner.Namespace {
		return fmt.Sprintf("AKO's object of this name belongs to namespace %s; vipgate leaves it alone", ns)
	}
	return ""
}

// mine reports whether owner may change or delete c.
func (a *Applier) mine(owner Owner, c *current) bool { return a.refuse(owner, c) == "" }

// akoIdentityKeys are AKO's markers that name the Kubernetes object an
// object belongs to; the other AKO markers (hosts, paths) describe it.
var akoIdentityKeys = []string{"Namespace", "ServiceName", "GatewayName"}

// akoMismatch says why AKO's object c is not the desired object d although
// they share a name ("" when it is): an identity marker on both that differs.
func akoMismatch(d desiredObj, c *current) string {
	body, err := d.body()
	if err != nil {
		return err.Error()
	}
	for _, k := range akoIdentityKeys {
		want, have := markerOf(body, k), markerOf(c.raw, k)
		if want != "" && have != "" && want != have {
			return fmt.Sprintf("AKO's object of this name has marker %s=%s, not %s: it belongs to another Kubernetes object; vipgate leaves it alone", k, have, want)
		}
	}
	return ""
}

// akoGate asks AKOGate before the first change to AKO's objects: nothing is
// adopted or deleted while AKO itself may still write them.
func (a *Applier) akoGate(ctx context.Context, owner Owner, cur map[string]*current) error {
	if a.AKOGate == nil {
		return nil
	}
	for _, c := range cur {
		if a.fromAKO(c) && a.mine(owner, c) {
			if err := a.AKOGate(ctx); err != nil {
				return fmt.Errorf("not adopting AKO's objects of %s: %w", owner.Name, err)
			}
			return nil
		}
	}
	return nil
}

// logAdopted records the AKO objects an Apply took over.
func (a *Applier) logAdopted(ctx context.Context, cur map[string]*current, res *Result) {
	for _, k := range res.Updated {
		if c := cur[k]; c != nil && a.fromAKO(c) {
			res.Adopted = append(res.Adopted, k)
		}
	}
	if len(res.Adopted) > 0 {
		logr.FromContextOrDiscard(ctx).Info("adopted AKO's objects", "objects", strings.Join(res.Adopted, ","))
	}
}
