package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
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

// The cache holds TLS Secrets only: a Secret it lacks is read from the API
// server, so one of another type is judged by its type (not reported
// missing) and one created a moment ago is served at once.
func TestSecretStoreReadsWhatTheCacheLacks(t *testing.T) {
	secret := func(name string, typ corev1.SecretType) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name}, Type: typ,
			Data: map[string][]byte{corev1.TLSCertKey: []byte("crt"), corev1.TLSPrivateKeyKey: []byte("key")}}
	}
	cachedTLS, newTLS, opaque := secret("cached", corev1.SecretTypeTLS), secret("new", corev1.SecretTypeTLS), secret("opaque", corev1.SecretTypeOpaque)
	build := func(objs ...client.Object) client.Client {
		return fake.NewClientBuilder().WithScheme(testScheme()).WithObjects(objs...).Build()
	}
	cache := build(cachedTLS.DeepCopy())
	api := build(cachedTLS.DeepCopy(), newTLS.DeepCopy(), opaque.DeepCopy())
	tests := []struct {
		name     string
		wantNil  bool
		wantType corev1.SecretType
		wantData bool
	}{
		{name: "cached", wantType: corev1.SecretTypeTLS, wantData: true},
		{name: "new", wantType: corev1.SecretTypeTLS, wantData: true},
		{name: "opaque", wantType: corev1.SecretTypeOpaque, wantData: false},
		{name: "missing", wantNil: true},
	}
	var s secretStore
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.get(context.Background(), cache, api, "shop", tt.name)
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			if tt.wantNil {
				if got != nil {
					t.Fatalf("get = %+v, want nil (no such Secret)", got)
				}
				return
			}
			if got == nil {
				t.Fatal("get = nil, want the Secret")
			}
			if got.summary.Type != tt.wantType {
				t.Errorf("summary type = %q, want %q", got.summary.Type, tt.wantType)
			}
			if hasData := got.data[corev1.TLSPrivateKeyKey] != nil; hasData != tt.wantData {
				t.Errorf("key material returned = %v, want %v", hasData, tt.wantData)
			}
		})
	}
	if len(s.got) != 1 || s.got["shop/cached"] == nil {
		t.Errorf("kept %v, want only shop/cached (what the cache versions)", keysOf(s.got))
	}
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
