package check

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/vipgate/vipgate/crds/v1alpha1"
	"github.com/vipgate/vipgate/crds/v1alpha2"
	"github.com/vipgate/vipgate/crds/v1beta1"
)

// Kinds check reads; every other kind is ignored.
const (
	KindService         = "Service"
	KindIngress         = "Ingress"
	KindIngressClass    = "IngressClass"
	KindNamespace       = "Namespace"
	KindSecret          = "Secret"
	KindAviInfraSetting = "AviInfraSetting"
	KindCertificate     = "Certificate"
	KindHostRule        = "HostRule"
	KindHTTPRule        = "HTTPRule"
	KindL4Rule          = "L4Rule"
)

// certManagerV1 is cert-manager's API version; check reads only a
// Certificate's spec.secretName, so it needs no cert-manager types.
const certManagerV1 = "cert-manager.io/v1"

// kinds maps "apiVersion kind" to the kind check reads it as.
var kinds = map[string]string{
	"v1 " + KindService:   KindService,
	"v1 " + KindNamespace: KindNamespace,
	"v1 " + KindSecret:    KindSecret,
	networkingv1.SchemeGroupVersion.String() + " Ingress":      KindIngress,
	networkingv1.SchemeGroupVersion.String() + " IngressClass": KindIngressClass,
	v1beta1.GroupVersion.String() + " " + KindAviInfraSetting:  KindAviInfraSetting,
	certManagerV1 + " " + KindCertificate:                      KindCertificate,
	// v1alpha1 rules have v1beta1's schema (crds/v1alpha1): read as v1beta1.
	v1beta1.GroupVersion.String() + " " + KindHostRule:  KindHostRule,
	v1alpha1.GroupVersion.String() + " " + KindHostRule: KindHostRule,
	v1beta1.GroupVersion.String() + " " + KindHTTPRule:  KindHTTPRule,
	v1alpha1.GroupVersion.String() + " " + KindHTTPRule: KindHTTPRule,
	v1alpha2.GroupVersion.String() + " " + KindL4Rule:   KindL4Rule,
}

// clusterScoped kinds carry no namespace.
var clusterScoped = []string{KindNamespace, KindIngressClass, KindAviInfraSetting}

// Object is one manifest of the set.
type Object struct {
	// Source is where it was read, "path:line" (line of the document's first line).
	Source string
	// Kind is one of the Kind constants, or the manifest's own kind for an
	// object check ignores (APIVersion then says which).
	Kind, APIVersion string
	Namespace, Name  string
	// Obj is the decoded object: *corev1.Service, *networkingv1.Ingress,
	// *networkingv1.IngressClass, *corev1.Namespace, *corev1.Secret,
	// *v1beta1.AviInfraSetting, *Certificate; nil when ignored.
	Obj any
}

// Ref is "Kind namespace/name" (or "Kind name" for a cluster-scoped object).
func (o Object) Ref() string {
	if o.Namespace == "" {
		return o.Kind + " " + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}

// Certificate is the part of a cert-manager Certificate check reads.
type Certificate struct {
	Namespace, Name, SecretName string
}

// InputError is a problem with the input itself (unreadable file, invalid
// YAML, an object that is not a Kubernetes object): the command exits 2.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputErr(format string, args ...any) error {
	return &InputError{fmt.Errorf(format, args...)}
}

// Stdin is the -f argument that reads standard input.
const Stdin = "-"

// ReadPaths reads every manifest of paths: files, folders (recursively,
// files ending in .yaml, .yml or .json, in lexical order) and "-" for
// stdin. namespace is given to namespaced objects that name none, as kubectl
// does with its current namespace. Errors are *InputError.
func ReadPaths(paths []string, stdin io.Reader, namespace string) ([]Object, error) {
	var out []Object
	for _, p := range paths {
		if p == Stdin {
			objs, err := Decode("<stdin>", stdin, namespace)
			if err != nil {
				return nil, err
			}
			out = append(out, objs...)
			continue
		}
		files, err := manifestFiles(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			r, err := os.Open(f)
			if err != nil {
				return nil, inputErr("%v", err)
			}
			objs, err := Decode(f, r, namespace)
			_ = r.Close()
			if err != nil {
				return nil, err
			}
			out = append(out, objs...)
		}
	}
	if err := noDuplicates(out); err != nil {
		return nil, err
	}
	return out, nil
}

// manifestFiles lists p itself when it is a file (whatever its name, as
// kubectl -f does), or the manifest files under it when it is a folder.
func manifestFiles(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, inputErr("%v", err)
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, inputErr("%v", err)
	}
	return files, nil
}

// noDuplicates refuses a set naming one object twice: "check each as a
// create" has no answer for it, and kubectl would apply the second over the first.
func noDuplicates(objs []Object) error {
	seen := map[string]string{}
	for _, o := range objs {
		if o.Obj == nil {
			continue
		}
		key := o.APIVersion + " " + o.Ref()
		if first, ok := seen[key]; ok {
			return inputErr("%s: %s is also defined at %s; a manifest set must name each object once", o.Source, o.Ref(), first)
		}
		seen[key] = o.Source
	}
	return nil
}

// Decode reads a YAML stream (documents separated by "---" lines, as
// kubectl splits them) or a JSON document, expanding kind List. name is
// used in Source and messages.
func Decode(name string, r io.Reader, namespace string) ([]Object, error) {
	docs, err := splitDocuments(r)
	if err != nil {
		return nil, inputErr("%s: %v", name, err)
	}
	var out []Object
	for _, d := range docs {
		src := fmt.Sprintf("%s:%d", name, d.line)
		j, err := yaml.YAMLToJSON(d.data)
		if err != nil {
			return nil, inputErr("%s: invalid YAML: %v", src, err)
		}
		objs, err := decodeJSON(src, j, namespace)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

type document struct {
	line int
	data []byte
}

// splitDocuments splits a stream at lines starting with "---" (followed by
// nothing, spaces or a comment), keeping each document's first line number.
// Documents holding only comments and blank lines are dropped.
func splitDocuments(r io.Reader) ([]document, error) {
	br := bufio.NewReader(r)
	var docs []document
	cur := document{line: 1}
	content := false
	flush := func() {
		if content {
			docs = append(docs, cur)
		}
	}
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if rest, ok := bytes.CutPrefix(line, []byte("---")); ok {
			t := strings.TrimSpace(string(rest))
			if t != "" && !strings.HasPrefix(t, "#") {
				return nil, fmt.Errorf("line %d: invalid YAML document separator: %s", n, t)
			}
			flush()
			cur, content = document{line: n + 1}, false
		} else {
			if t := strings.TrimSpace(string(line)); t != "" && !strings.HasPrefix(t, "#") {
				if !content {
					cur.line = n
				}
				content = true
			}
			cur.data = append(cur.data, line...)
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	flush()
	return docs, nil
}

// decodeJSON decodes one document (a List expands to its items).
func decodeJSON(src string, j []byte, namespace string) ([]Object, error) {
	if t := bytes.TrimSpace(j); len(t) == 0 || string(t) == "null" {
		return nil, nil
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(j, &tm); err != nil {
		return nil, inputErr("%s: not a Kubernetes object: %v", src, err)
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		return nil, inputErr("%s: not a Kubernetes object: apiVersion and kind are required", src)
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if tm.Kind == "List" || (strings.HasSuffix(tm.Kind, "List") && json.Unmarshal(j, &list) == nil && list.Items != nil) {
		if err := json.Unmarshal(j, &list); err != nil {
			return nil, inputErr("%s: %s: %v", src, tm.Kind, err)
		}
		var out []Object
		for i, it := range list.Items {
			objs, err := decodeJSON(fmt.Sprintf("%s (items[%d])", src, i), it, namespace)
			if err != nil {
				return nil, err
			}
			out = append(out, objs...)
		}
		return out, nil
	}
	o := Object{Source: src, APIVersion: tm.APIVersion, Kind: tm.Kind}
	kind, known := kinds[tm.APIVersion+" "+tm.Kind]
	if !known {
		var meta struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		_ = json.Unmarshal(j, &meta)
		o.Namespace, o.Name = meta.Metadata.Namespace, meta.Metadata.Name
		return []Object{o}, nil
	}
	var m *metav1.ObjectMeta
	switch kind {
	case KindService:
		v := &corev1.Service{}
		o.Obj, m = v, &v.ObjectMeta
	case KindIngress:
		v := &networkingv1.Ingress{}
		o.Obj, m = v, &v.ObjectMeta
	case KindIngressClass:
		v := &networkingv1.IngressClass{}
		o.Obj, m = v, &v.ObjectMeta
	case KindNamespace:
		v := &corev1.Namespace{}
		o.Obj, m = v, &v.ObjectMeta
	case KindSecret:
		v := &corev1.Secret{}
		o.Obj, m = v, &v.ObjectMeta
	case KindAviInfraSetting:
		v := &v1beta1.AviInfraSetting{}
		o.Obj, m = v, &v.ObjectMeta
	case KindHostRule:
		v := &v1beta1.HostRule{}
		o.Obj, m = v, &v.ObjectMeta
	case KindHTTPRule:
		v := &v1beta1.HTTPRule{}
		o.Obj, m = v, &v.ObjectMeta
	case KindL4Rule:
		v := &v1alpha2.L4Rule{}
		o.Obj, m = v, &v.ObjectMeta
	case KindCertificate:
		var c struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
			Spec     struct {
				SecretName string `json:"secretName"`
			} `json:"spec"`
		}
		if err := kjson.UnmarshalCaseSensitivePreserveInts(j, &c); err != nil {
			return nil, inputErr("%s: %s %q: %v", src, tm.Kind, nameOf(j), err)
		}
		o.Obj, m = &Certificate{SecretName: c.Spec.SecretName}, &c.Metadata
	}
	if kind != KindCertificate {
		// Strict and case-sensitive, as the API server decodes under
		// kubectl's default field validation: a misspelt field
		// (loadBalancerIp) would otherwise pass unseen, or be read anyway.
		strict, err := kjson.UnmarshalStrict(j, o.Obj)
		if err == nil && len(strict) > 0 {
			msgs := make([]string, len(strict))
			for i, e := range strict {
				msgs[i] = e.Error()
			}
			err = errors.New(strings.Join(msgs, "; "))
		}
		if err != nil {
			return nil, inputErr("%s: %s %q: %v", src, tm.Kind, nameOf(j), err)
		}
	}
	if m.Name == "" {
		return nil, inputErr("%s: %s: metadata.name is required", src, tm.Kind)
	}
	if slices.Contains(clusterScoped, kind) {
		m.Namespace = ""
	} else if m.Namespace == "" {
		m.Namespace = namespace
	}
	o.Namespace, o.Name = m.Namespace, m.Name
	if c, ok := o.Obj.(*Certificate); ok {
		c.Namespace, c.Name = m.Namespace, m.Name
	}
	return []Object{o}, nil
}

// nameOf reads metadata.name for a message about an object that did not decode.
func nameOf(j []byte) string {
	var meta struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(j, &meta)
	return meta.Metadata.Name
}
