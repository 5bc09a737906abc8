package webhooks

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/vipgate/vipgate/crds/v1alpha2"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/rules"
)

var (
	hostRuleGK = schema.GroupKind{Group: v1beta1.GroupVersion.Group, Kind: "HostRule"}
	httpRuleGK = schema.GroupKind{Group: v1beta1.GroupVersion.Group, Kind: "HTTPRule"}
	l4RuleGK   = schema.GroupKind{Group: v1alpha2.GroupVersion.Group, Kind: "L4Rule"}
)

// The rule CRD handlers judge with the rule book: every rule is vipgate's
// to judge (AKO's CRDs have no class), in the namespaces namespace
// selection leaves to vipgate. Deletes are always allowed: removing a rule
// restores vipgate's defaults.
type (
	hostRuleValidator struct{ o *Options }
	httpRuleValidator struct{ o *Options }
	l4RuleValidator   struct{ o *Options }
)

// judgeRule runs check in scope: a rule in a namespace vipgate does not
// select is another controller's business.
func (o *Options) judgeRule(ctx context.Context, gk schema.GroupKind, namespace, name string, deleting bool, check func(rules.Env) rules.Result) (admission.Warnings, error) {
	if deleting {
		return nil, nil
	}
	judge, warnings := o.scope(ctx, namespace)
	if !judge {
		return nil, nil
	}
	res := check(o.envFor(ctx))
	for _, w := range warnings {
		res.Warn(w)
	}
	return verdict(ctx, gk, name, res)
}

func (v *hostRuleValidator) ValidateCreate(ctx context.Context, hr *v1beta1.HostRule) (admission.Warnings, error) {
	return v.o.judgeRule(ctx, hostRuleGK, hr.Namespace, hr.Name, false, func(env rules.Env) rules.Result { return rules.ValidateHostRule(hr, nil, env) })
}

func (v *hostRuleValidator) ValidateUpdate(ctx context.Context, old, hr *v1beta1.HostRule) (admission.Warnings, error) {
	return v.o.judgeRule(ctx, hostRuleGK, hr.Namespace, hr.Name, hr.DeletionTimestamp != nil, func(env rules.Env) rules.Result { return rules.ValidateHostRule(hr, old, env) })
}

func (v *hostRuleValidator) ValidateDelete(context.Context, *v1beta1.HostRule) (admission.Warnings, error) {
	return nil, nil
}

func (v *httpRuleValidator) ValidateCreate(ctx context.Context, hr *v1beta1.HTTPRule) (admission.Warnings, error) {
	return v.o.judgeRule(ctx, httpRuleGK, hr.Namespace, hr.Name, false, func(env rules.Env) rules.Result { return rules.ValidateHTTPRule(hr, nil, env) })
}

func (v *httpRuleValidator) ValidateUpdate(ctx context.Context, old, hr *v1beta1.HTTPRule) (admission.Warnings, error) {
	return v.o.judgeRule(ctx, httpRuleGK, hr.Namespace, hr.Name, hr.DeletionTimestamp != nil, func(env rules.Env) rules.Result { return rules.ValidateHTTPRule(hr, old, env) })
}

func (v *httpRuleValidator) ValidateDelete(context.Context, *v1beta1.HTTPRule) (admission.Warnings, error) {
	return nil, nil
}

func (v *l4RuleValidator) ValidateCreate(ctx context.Context, r *v1alpha2.L4Rule) (admission.Warnings, error) {
	return v.o.judgeRule(ctx, l4RuleGK, r.Namespace, r.Name, false, func(env rules.Env) rules.Result { return rules.ValidateL4Rule(r, nil, env) })
}

func (v *l4RuleValidator) ValidateUpdate(ctx context.Context, old, r *v1alpha2.L4Rule) (admission.Warnings, error) {
	return v.o.judgeRule(ctx, l4RuleGK, r.Namespace, r.Name, r.DeletionTimestamp != nil, func(env rules.Env) rules.Result { return rules.ValidateL4Rule(r, old, env) })
}

func (v *l4RuleValidator) ValidateDelete(context.Context, *v1alpha2.L4Rule) (admission.Warnings, error) {
	return nil, nil
}

var (
	_ admission.Validator[*v1beta1.HostRule] = (*hostRuleValidator)(nil)
	_ admission.Validator[*v1beta1.HTTPRule] = (*httpRuleValidator)(nil)
	_ admission.Validator[*v1alpha2.L4Rule]  = (*l4RuleValidator)(nil)
)
