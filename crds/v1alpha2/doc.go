// Package v1alpha2 holds AKO's ako.vmware.com/v1alpha2 L4Rule, with AKO's
// field names, enums and defaults so existing manifests apply.
// +kubebuilder:object:generate=true
// +groupName=ako.vmware.com
package v1alpha2

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

// GroupVersion is ako.vmware.com/v1alpha2.
var GroupVersion = schema.GroupVersion{Group: "ako.vmware.com", Version: "v1alpha2"}

// SchemeBuilder registers the types of this package.
var SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

// AddToScheme adds the types of this package to a scheme.
var AddToScheme = SchemeBuilder.AddToScheme
