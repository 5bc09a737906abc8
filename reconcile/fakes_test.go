package reconcile

import (
	"context"
	"net/url"
	"slices"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/vipgate/vipgate/avi/apply"
	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/avi/objects"
	"github.com/vipgate/vipgate/cluster"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
)

// fakeApplier stands in for the controller: it records what reconcilers
// send and answers with a VsVip holding vip (per owner when vips is set),
// or with the error set for the next calls.
type fakeApplier struct {
	mu        sync.Mutex
	vip       string
	vips      map[string]string
	applyErr  map[string]error // by owner; "" for every owner
	deleteErr error
	applied   []*model.Set
	deleted   []apply.Owner
	held      map[string]string // owner → address its VsVip holds (for Delete)
	edits     []string
	// owned is what ListOwned returns; objsDeleted what DeleteObjects got.
	owned, objsDeleted []apply.Object
	// duringApply runs inside Apply, unlocked: a change made while a
	// controller call is in flight.
	duringApply func()
}

func newFakeApplier(vip string) *fakeApplier {
	return &fakeApplier{vip: vip, vips: map[string]string{}, applyErr: map[string]error{}, held: map[string]string{}}
}

func vsvipWith(name, ip string) *objects.VsVip {
	return &objects.VsVip{Name: ptr.To(name), Vip: []*objects.Vip{{VipID: ptr.To("1"), IPAddress: &objects.IPAddr{Addr: ptr.To(ip), Type: ptr.To("V4")}}}}
}

func (f *fakeApplier) Apply(_ context.Context, set *model.Set) (*apply.Result, error) {
	if f.duringApply != nil {
		f.duringApply()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.applyErr[set.Owner]; err != nil {
		return nil, err
	}
	if err := f.applyErr[""]; err != nil {
		return nil, err
	}
	f.applied = append(f.applied, set)
	ip := f.vip
	if v := f.vips[set.Owner]; v != "" {
		ip = v
	}
	f.held[set.Owner] = ip
	return &apply.Result{VsVip: vsvipWith(set.Owner, ip), Writes: 1}, nil
}

func (f *fakeApplier) Delete(_ context.Context, owner apply.Owner) (*apply.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.deleteErr != nil {
		return nil, f.deleteErr
	}
	f.deleted = append(f.deleted, owner)
	res := &apply.Result{}
	if ip, ok := f.held[owner.Name]; ok {
		res.VsVip, res.Writes = vsvipWith(owner.Name, ip), 1
		delete(f.held, owner.Name)
	}
	return res, nil
}

func (f *fakeApplier) ListOwned(context.Context, string, string, ...string) ([]apply.Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.owned), nil
}

func (f *fakeApplier) DeleteObjects(_ context.Context, objs []apply.Object) (*apply.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.objsDeleted = append(f.objsDeleted, objs...)
	res := &apply.Result{}
	for _, o := range objs {
		res.Deleted = append(res.Deleted, o.Type+"/"+o.Name)
	}
	return res, nil
}

func (f *fakeApplier) Edit(_ context.Context, typ, name, _ string, _ url.Values, edit apply.EditFunc) (bool, error) {
	f.mu.Lock()
	f.edits = append(f.edits, typ+"/"+name)
	f.mu.Unlock()
	obj := map[string]any{"name": name}
	return edit(obj)
}

func (f *fakeApplier) appliedOwners() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, s := range f.applied {
		out = append(out, s.Owner)
	}
	return out
}

// statusPatches counts status writes through a fake client.
type statusPatches struct {
	mu sync.Mutex
	n  int
}

func (s *statusPatches) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// newFakeClient is controller-runtime's fake client with vipgate's scheme,
// status subresources and the field indexes the reconcilers query, counting
// status patches.
func newFakeClient(t *testing.T, objs ...client.Object) (client.Client, *statusPatches) {
	t.Helper()
	b := fake.NewClientBuilder().WithScheme(testScheme()).WithObjects(objs...).
		WithStatusSubresource(&corev1.Service{}, &networkingv1.Ingress{})
	if err := cluster.SetupIndexes(context.Background(), builderIndexer{b}); err != nil {
		t.Fatal(err)
	}
	sp := &statusPatches{}
	b = b.WithInterceptorFuncs(interceptor.Funcs{
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			sp.mu.Lock()
			sp.n++
			sp.mu.Unlock()
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
	})
	return b.Build(), sp
}

// builderIndexer registers field indexes on a fake client builder.
type builderIndexer struct{ b *fake.ClientBuilder }

func (x builderIndexer) IndexField(_ context.Context, obj client.Object, field string, fn client.IndexerFunc) error {
	x.b.WithIndex(obj, field, fn)
	return nil
}

func testSettings(edit ...func(*config.Settings)) *config.Settings {
	s := config.Defaults()
	s.AKOSettings.ClusterName = "c1"
	s.ControllerSettings.ControllerHost = "controller.example.com"
	for _, e := range edit {
		e(&s)
	}
	return &s
}

// events drains a fake recorder.
func events(r *record.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-r.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func testScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(v1beta1.AddToScheme(s))
	return s
}

// HoldL7 bounds nothing: the fake applies at once.
func (f *fakeApplier) HoldL7(ctx context.Context) (context.Context, func(), error) {
	return ctx, func() {}, nil
}
