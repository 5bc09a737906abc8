package rules

import (
	"fmt"
	"slices"

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
	return res
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
