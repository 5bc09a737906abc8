package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/rules"
)

// createJudge serves a mutating path that defaults a create and then judges
// it with the validator's rules, so that a create costs the API server one
// webhook call instead of two (and the user waits for one). Which creates it
// judges is one predicate (judgedHere) on what leaves this handler, and the
// validating webhook skips exactly those creates (its match condition
// states the same predicate in CEL): an object that carries the cleanup
// finalizer and, for a Service, requests no VIP. A create left without the
// finalizer (deleteConfig, another owner, a namespace vipgate does not
// select, or this call failed open) is judged by the validating webhook as
// before. A Service that requests a VIP is judged there too, since only
// then is spec.ipFamilies, which the API server sets after the mutating
// webhooks, part of the verdict. The mutating webhooks are reinvoked
// (IfNeeded) when a later mutating webhook changes the object, so what is
// judged is what is stored.
type createJudge[T client.Object] struct {
	decoder    admission.Decoder
	new        func() T
	defaults   func(context.Context, T) error
	validate   func(context.Context, T) (admission.Warnings, error)
	judgedHere func(T) bool
}

// newCreateJudge wraps defaults and validate in a webhook for the mutating
// path of T that judges the creates judgedHere accepts.
func newCreateJudge[T client.Object](scheme *runtime.Scheme, newObj func() T, defaults func(context.Context, T) error,
	validate func(context.Context, T) (admission.Warnings, error), judgedHere func(T) bool) *admission.Webhook {
	return &admission.Webhook{Handler: &createJudge[T]{
		decoder:    admission.NewDecoder(scheme),
		new:        newObj,
		defaults:   defaults,
		validate:   validate,
		judgedHere: judgedHere,
	}}
}

// ServiceJudgedAtCreate says whether the Service mutating webhook judges
// the create of svc (as defaulted), so that the validating webhook skips
// it: it carries the cleanup finalizer and requests no VIP. It is
// serviceJudgedAtCreate in Go.
func ServiceJudgedAtCreate(svc *corev1.Service) bool {
	_, annotated := svc.Annotations[rules.AnnLoadBalancerIP]
	return controllerutil.ContainsFinalizer(svc, ownership.CleanupFinalizer) &&
		svc.Spec.LoadBalancerIP == "" && !annotated //nolint:staticcheck // AKO's surface still uses the deprecated field.
}

// IngressJudgedAtCreate says whether the Ingress mutating webhook judges
// the create of ing (as defaulted): it carries the cleanup finalizer. It is
// ingressJudgedAtCreate in Go.
func IngressJudgedAtCreate(ing *networkingv1.Ingress) bool {
	return controllerutil.ContainsFinalizer(ing, ownership.CleanupFinalizer)
}

// Handle defaults a created object, judges it when judgedHere says so, and answers with the defaults as a JSON patch (computed between
// two encodings of the typed object, so fields the scheme does not know are
// never removed) or with the validator's denial.
func (h *createJudge[T]) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create {
		// The configurations route creates only; anything else passes untouched.
		return admission.Allowed("")
	}
	obj := h.new()
	if err := h.decoder.DecodeRaw(req.Object, obj); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	before, err := json.Marshal(obj)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	if err := h.defaults(ctx, obj); err != nil {
		return denial(err, nil)
	}
	var warnings admission.Warnings
	if h.judgedHere(obj) {
		w, err := h.validate(ctx, obj)
		if err != nil {
			return denial(err, w)
		}
		warnings = w
	}
	after, err := json.Marshal(obj)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	return admission.PatchResponseFromRaw(before, after).WithWarnings(warnings...)
}

// denial answers err as controller-runtime's validating handler does: an
// API status (Invalid, Forbidden) keeps its code, reason and causes, so
// kubectl prints the same message whichever webhook judged.
func denial(err error, warnings admission.Warnings) admission.Response {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		s := status.Status()
		return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{Allowed: false, Result: &s}}.WithWarnings(warnings...)
	}
	return admission.Denied(err.Error()).WithWarnings(warnings...)
}
