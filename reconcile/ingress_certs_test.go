package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// secretReads answers Secret reads with one answer per read in turn and
// records the resourceVersion each read asked for ("" for a quorum read).
type secretReads struct {
	answers []error
	asked   []string
}

func (s *secretReads) Get(_ context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	var o client.GetOptions
	o.ApplyOptions(opts)
	rv := ""
	if o.Raw != nil {
		rv = o.Raw.ResourceVersion
	}
	s.asked = append(s.asked, rv)
	err := s.answers[len(s.asked)-1]
	if err == nil {
		sec := obj.(*corev1.Secret)
		sec.Name, sec.Namespace, sec.ResourceVersion = key.Name, key.Namespace, fmt.Sprintf("read-%d", len(s.asked))
	}
	return err
}

func (s *secretReads) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return errors.New("not used")
}

// TestReadSecretAt: a Secret's content is read at the version the cache
// holds (the API server's watch cache answers), and quorum-read only when
// that read fails for another reason than the Secret being gone.
func TestReadSecretAt(t *testing.T) {
	gone := apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, "tls")
	behind := apierrors.NewTimeoutError("Too large resource version: 12, current: 11", 1)
	tests := []struct {
		name      string
		rv        string
		answers   []error
		wantAsked []string
		wantRV    string // of the Secret returned; "" when none
		wantErr   error
	}{
		{"read at the cached version", "12", []error{nil}, []string{"12"}, "read-1", nil},
		{"a watch cache behind: quorum read", "12", []error{behind, nil}, []string{"12", ""}, "read-2", nil},
		{"gone at the cached version: no second read", "12", []error{gone}, []string{"12"}, "", gone},
		{"no version known: quorum read", "", []error{nil}, []string{""}, "read-1", nil},
		{"both reads fail: the quorum read's error", "12", []error{behind, gone}, []string{"12", ""}, "", gone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &secretReads{answers: tt.answers}
			sec, err := readSecretAt(context.Background(), api, types.NamespacedName{Namespace: "ns", Name: "tls"}, tt.rv)
			if !slices.Equal(api.asked, tt.wantAsked) {
				t.Errorf("reads at resourceVersions %q, want %q", api.asked, tt.wantAsked)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
			got := ""
			if sec != nil {
				got = sec.ResourceVersion
			}
			if got != tt.wantRV {
				t.Errorf("Secret at %q, want %q", got, tt.wantRV)
			}
		})
	}
}
