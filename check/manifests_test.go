package check

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// refs lists "Source Ref" of objects, or "Source <kind> ignored" for the others.
func refs(objs []Object) []string {
	var out []string
	for _, o := range objs {
		if o.Obj == nil {
			out = append(out, o.Source+" "+o.APIVersion+" "+o.Ref()+" ignored")
			continue
		}
		out = append(out, o.Source+" "+o.Ref())
	}
	return out
}

func TestDecodeDocumentsAndLines(t *testing.T) {
	const stream = `# leading comment
---
apiVersion: v1
kind: Service
metadata: {name: a}
spec: {type: LoadBalancer}
--- # a comment after the separator
# only a comment
---

---
apiVersion: v1
kind: Namespace
metadata: {name: team, namespace: ignored}
---
apiVersion: v1
kind: List
items:
- apiVersion: networking.k8s.io/v1
  kind: Ingress
  metadata: {name: i, namespace: team}
- apiVersion: ako.vmware.com/v1beta1
  kind: AviInfraSetting
  metadata: {name: ais}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: team}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: c}
spec: {secretName: s}
---
null
---
`
	objs, err := Decode("s.yaml", strings.NewReader(stream), "ns1")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"s.yaml:3 Service ns1/a",
		"s.yaml:12 Namespace team",
		"s.yaml:16 (items[0]) Ingress team/i",
		"s.yaml:16 (items[1]) AviInfraSetting ais",
		"s.yaml:26 apps/v1 Deployment team/web ignored",
		"s.yaml:30 Certificate ns1/c",
	}
	if got := refs(objs); !slices.Equal(got, want) {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if c, ok := objs[5].Obj.(*Certificate); !ok || *c != (Certificate{Namespace: "ns1", Name: "c", SecretName: "s"}) {
		t.Errorf("certificate %+v", objs[5].Obj)
	}
	if svc := objs[0].Obj.(*corev1.Service); svc.Spec.Type != corev1.ServiceTypeLoadBalancer || svc.Namespace != "ns1" {
		t.Errorf("service %+v", svc)
	}
}

func TestDecodeJSON(t *testing.T) {
	objs, err := Decode("x.json", strings.NewReader(`{"apiVersion": "v1", "kind": "ServiceList", "items": [
  {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "n"}},
  {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"}}
]}`), "default")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := refs(objs), []string{"x.json:1 (items[0]) Service n/a", "x.json:1 (items[1]) Secret n/s"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ name, stream, want string }{
		{"invalid YAML", "apiVersion: v1\nkind: Service\nmetadata: {name: a\n", "s.yaml:1: invalid YAML: yaml: line 3: did not find expected ',' or '}'"},
		{"no kind", "apiVersion: v1\nmetadata: {name: a}\n", "s.yaml:1: not a Kubernetes object: apiVersion and kind are required"},
		{"a Helm values file", "AKOSettings:\n  clusterName: demo\n", "s.yaml:1: not a Kubernetes object: apiVersion and kind are required"},
		{"a misspelt field", "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {loadBalancerIp: 10.0.0.1}\n", `s.yaml:1: Service "a": unknown field "spec.loadBalancerIp"`},
		{"a wrong type", "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: eighty}]}\n", `s.yaml:1: Service "a": json: cannot unmarshal string into Go struct field ServicePort.spec.ports.port of type int32`},
		{"no name", "apiVersion: v1\nkind: Service\nmetadata: {generateName: a-}\n", "s.yaml:1: Service: metadata.name is required"},
		{"a bad separator", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n--- kind: x\n", "s.yaml: line 4: invalid YAML document separator: kind: x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode("s.yaml", strings.NewReader(tc.stream), "default")
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v (%T), want an InputError", err, err)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n  %s\nwant\n  %s", err, tc.want)
			}
		})
	}
}

func TestReadPaths(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ns := func(name string) string { return "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + name + "}\n" }
	write("set/b.yaml", ns("b"))
	write("set/a.yml", ns("a"))
	write("set/sub/c.json", `{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "c"}}`)
	write("set/README.md", "not a manifest")
	write("set/values.txt", "AKOSettings: {}")
	explicit := write("other.txt", ns("d"))

	objs, err := ReadPaths([]string{filepath.Join(dir, "set"), explicit, Stdin}, strings.NewReader(ns("e")), "default")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join(dir, "set/a.yml") + ":1 Namespace a",
		filepath.Join(dir, "set/b.yaml") + ":1 Namespace b",
		filepath.Join(dir, "set/sub/c.json") + ":1 Namespace c",
		explicit + ":1 Namespace d",
		"<stdin>:1 Namespace e",
	}
	if got := refs(objs); !slices.Equal(got, want) {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}

	// The same object twice is refused, naming both places.
	dup := write("dup.yaml", ns("b"))
	_, err = ReadPaths([]string{filepath.Join(dir, "set"), dup}, nil, "default")
	if want := dup + ":1: Namespace b is also defined at " + filepath.Join(dir, "set/b.yaml") + ":1; a manifest set must name each object once"; err == nil || err.Error() != want {
		t.Errorf("duplicate: %v, want %s", err, want)
	}
	// A missing path is an input error.
	_, err = ReadPaths([]string{filepath.Join(dir, "nope")}, nil, "default")
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "no such file or directory") {
		t.Errorf("missing path: %v", err)
	}
	// Objects of another namespace or API version are different objects.
	if _, err := ReadPaths([]string{write("two.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: one}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: two}\n")}, nil, "default"); err != nil {
		t.Errorf("two namespaces: %v", err)
	}
}
