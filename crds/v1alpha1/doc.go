// Package v1alpha1 holds the Go types of AKO's ako.vmware.com/v1alpha1
// custom resources vipgate serves (AviInfraSetting, HostRule, HTTPRule), so
// manifests written for older AKO releases apply unchanged. Their schemas
// are v1beta1's (the stored version): AKO documents no schema change between
// the two, and one schema means an object written at one version reads back
// whole at the other, with no conversion webhook. vipgate reads and judges
// v1beta1 only.
// +kubebuilder:object:generate=true
// +groupName=ako.vmware.com
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

// GroupVersion is ako.vmware.com/v1alpha1.
var GroupVersion = schema.GroupVersion{Group: "ako.vmware.com", Version: "v1alpha1"}

// SchemeBuilder registers the types of this package.
var SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

// AddToScheme adds the types of this package to a scheme.
var AddToScheme = SchemeBuilder.AddToScheme
