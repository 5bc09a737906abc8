// Package v1alpha1 holds the Go types of AKO's ako.vmware.com/v1alpha1
// custom resources vipgate serves, so manifests written for older AKO
// releases apply unchanged. AviInfraSetting here has exactly the schema of
// v1beta1 (the stored version): the API server converts between them by
// changing apiVersion alone, and vipgate reads v1beta1.
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
