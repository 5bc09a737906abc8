// Package v1beta1 holds the Go types of AKO's ako.vmware.com/v1beta1 custom
// resources that vipgate reads, with AKO's field names so existing manifests apply.
// +kubebuilder:object:generate=true
// +groupName=ako.vmware.com
package v1beta1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

// GroupVersion is ako.vmware.com/v1beta1.
var GroupVersion = schema.GroupVersion{Group: "ako.vmware.com", Version: "v1beta1"}

// SchemeBuilder registers the types of this package.
var SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

// AddToScheme adds the types of this package to a scheme.
var AddToScheme = SchemeBuilder.AddToScheme
