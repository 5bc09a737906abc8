package rules

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/vipgate/vipgate/crds/v1beta1"
)

// ValidateAviInfraSetting checks that an AviInfraSetting can actually place
// VIPs: its networks (see ValidateVIPNetworks) and its SE group (see
// ValidateSEGroup). The reconciler writes the same errors to status.error with
// status.status Rejected.
func ValidateAviInfraSetting(ais *v1beta1.AviInfraSetting, env Env) Result {
	var res Result
	if ais == nil {
		return res
	}
	spec := field.NewPath("spec")
	res.Merge(ValidateVIPNetworks(spec.Child("network", "vipNetworks"), VIPNetworksFromInfraSetting(ais), env))
	res.Merge(ValidateSEGroup(spec.Child("seGroup", "name"), ais.Spec.SeGroup.Name, env))
	if ignored := IgnoredInfraSettingFields(ais); len(ignored) > 0 {
		res.Warn(IgnoredFieldsMessage(ignored))
	}
	return res
}

// IgnoredInfraSettingFields lists the fields of AKO's AviInfraSetting schema
// that are set (to something other than their default) and that vipgate
// does not act on: node networks (AKO's NodePort pools), extra L7 listeners,
// a public IP on top of the VIP, and NSX-T's tier-1 router. They are
// accepted, so AKO manifests apply unchanged, and reported: as an admission
// warning and as the status condition Supported.
func IgnoredInfraSettingFields(ais *v1beta1.AviInfraSetting) []string {
	if ais == nil {
		return nil
	}
	var out []string
	n := ais.Spec.Network
	if len(n.NodeNetworks) > 0 {
		out = append(out, "spec.network.nodeNetworks")
	}
	if len(n.Listeners) > 0 {
		out = append(out, "spec.network.listeners")
	}
	if n.EnablePublicIP != nil && *n.EnablePublicIP {
		out = append(out, "spec.network.enablePublicIP")
	}
	if t := ais.Spec.NSXSettings.T1LR; t != nil && *t != "" {
		out = append(out, "spec.nsxSettings.t1lr")
	}
	return out
}

// IgnoredFieldsMessage is the admission warning and the Supported
// condition's message for fields vipgate accepts but does not act on.
func IgnoredFieldsMessage(fields []string) string {
	verb, it := "is", "it"
	if len(fields) > 1 {
		verb, it = "are", "them"
	}
	return fmt.Sprintf("%s %s accepted for AKO compatibility but vipgate does not act on %s; the setting applies without %s",
		strings.Join(fields, ", "), verb, it, it)
}

// ValidateAviInfraSettingDelete rejects deleting an AviInfraSetting that
// Services, Namespaces or IngressClasses still select: their VIPs would move
// or stall at the next reconcile, which nobody asked for by deleting.
func ValidateAviInfraSettingDelete(name string, env Env) Result {
	var res Result
	refs, err := env.lookups().ReferencesToInfraSetting(env.ctx(), name)
	if err != nil {
		res.Warn(couldNotCheck(fmt.Sprintf("which objects still select AviInfraSetting %q", name), err))
		return res
	}
	if len(refs) == 0 {
		return res
	}
	refs = slices.Clone(refs)
	slices.Sort(refs)
	res.Errors = append(res.Errors, field.Invalid(field.NewPath("metadata", "name"), name,
		fmt.Sprintf("AviInfraSetting is still referenced by %s; remove the %s annotation (or IngressClass parameters) from them first",
			listNames(refs), AnnInfraSetting)))
	return res
}
