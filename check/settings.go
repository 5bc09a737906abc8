package check

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/vipgate/vipgate/config"
)

// SettingsFile is a settings file as check reads it: vipgate's own settings
// document, or a Helm values file of the vipgate chart (or AKO's) from which
// the AKO sections are picked the way the chart renders them.
type SettingsFile struct {
	Settings *config.Settings
	// HelmValues is set when the file was read as a Helm values file.
	HelmValues bool
	// Ignored lists the keys of a Helm values file that are not settings
	// (sorted, "section.key" inside the AKO sections, top-level otherwise).
	Ignored []string
	// IngressClass is the IngressClass the chart installs for Helm values
	// (vipgate.ingressClass, with the chart's defaults); nil for a settings
	// file, or when the chart would not create one.
	IngressClass *ChartIngressClass
}

// ChartIngressClass is the IngressClass the chart creates.
type ChartIngressClass struct {
	Name string
	// IsDefault is the chart's is-default-class decision.
	IsDefault bool
}

// settingsSections are the top-level keys of a settings document: the JSON
// names of config.Settings' fields, each with its type.
func settingsSections() map[string]reflect.Type {
	out := map[string]reflect.Type{}
	t := reflect.TypeFor[config.Settings]()
	for i := range t.NumField() {
		name := strings.Split(t.Field(i).Tag.Get("json"), ",")[0]
		if name != "" && name != "-" {
			out[name] = t.Field(i).Type
		}
	}
	return out
}

// fieldNames are the JSON names of a struct type's fields.
func fieldNames(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		name := strings.Split(t.Field(i).Tag.Get("json"), ",")[0]
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

// LoadSettings reads path as a settings file. A document whose top-level keys
// are all settings sections (AKOSettings, NetworkSettings, L7Settings,
// L4Settings, ControllerSettings, nodePortSelector) is vipgate's settings file
// and is parsed strictly, as the operator does: a misspelt key is an error.
// Any other top-level key (avicredentials, vipgate, replicaCount, image, ...)
// makes it a Helm values file: as the chart's settings ConfigMap does, only
// the keys vipgate knows are taken from each AKO section (null values are
// left at their defaults) and everything else is listed in Ignored.
// Credentials in a values file (avicredentials) are never read.
//
// ControllerSettings.controllerHost is not required: check never connects.
func LoadSettings(path string) (*SettingsFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading settings: %w", err)
	}
	return ParseSettings(data)
}

// ParseSettings is LoadSettings on the file's content.
func ParseSettings(data []byte) (*SettingsFile, error) {
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	sections := settingsSections()
	helm := false
	for k := range raw {
		if _, ok := sections[k]; !ok {
			helm = true
		}
	}
	out := &SettingsFile{HelmValues: helm}
	if helm {
		picked := map[string]any{}
		for k, v := range raw {
			t, ok := sections[k]
			if !ok {
				out.Ignored = append(out.Ignored, k)
				continue
			}
			m, ok := v.(map[string]any)
			if !ok {
				if v != nil {
					out.Ignored = append(out.Ignored, k)
				}
				continue
			}
			keys := fieldNames(t)
			sec := map[string]any{}
			for key, val := range m {
				switch {
				case !slices.Contains(keys, key):
					out.Ignored = append(out.Ignored, k+"."+key)
				case val != nil:
					sec[key] = val
				}
			}
			picked[k] = sec
		}
		slices.Sort(out.Ignored)
		out.IngressClass = chartIngressClass(raw)
		var err error
		if data, err = yaml.Marshal(picked); err != nil {
			return nil, fmt.Errorf("settings: %w", err)
		}
	}
	s, err := config.Parse(data)
	if err != nil {
		if s, err = withoutControllerHost(data, err); err != nil {
			return nil, err
		}
	}
	out.Settings = s
	return out, nil
}

// withoutControllerHost accepts settings whose only problem is a missing
// controllerHost: check reads the controller from an inventory file, and a
// values file kept in Git often leaves the host to the install.
func withoutControllerHost(data []byte, perr error) (*config.Settings, error) {
	var verrs config.ValidationErrors
	if !errors.As(perr, &verrs) {
		return nil, perr
	}
	const missing = "ControllerSettings.controllerHost: is required"
	if !slices.Contains(verrs, missing) {
		return nil, perr
	}
	rest := slices.DeleteFunc(slices.Clone(verrs), func(s string) bool { return s == missing })
	if len(rest) > 0 {
		return nil, rest
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	cs, _ := raw["ControllerSettings"].(map[string]any)
	if cs == nil {
		cs = map[string]any{}
	}
	cs["controllerHost"] = "controller.invalid" // never contacted
	raw["ControllerSettings"] = cs
	data, err := yaml.Marshal(raw)
	if err != nil {
		return nil, err
	}
	s, err := config.Parse(data)
	if err != nil {
		return nil, err
	}
	s.ControllerSettings.ControllerHost = ""
	return s, nil
}

// chartIngressClass mirrors the chart's ingressclass.yaml: the class
// vipgate.ingressClass.name (default avi-lb) exists when
// vipgate.ingressClass.create and AKOSettings.primaryInstance are true (both
// default to true), and is the default class when
// vipgate.ingressClass.isDefault says so or, left empty, when
// L7Settings.defaultIngController is true (default true).
func chartIngressClass(raw map[string]any) *ChartIngressClass {
	vg, _ := raw["vipgate"].(map[string]any)
	ic, _ := vg["ingressClass"].(map[string]any)
	name, _ := ic["name"].(string)
	if name == "" {
		name = "avi-lb"
	}
	if v, ok := ic["create"]; ok && !truthy(v, true) {
		return nil
	}
	ako, _ := raw["AKOSettings"].(map[string]any)
	if !truthy(ako["primaryInstance"], true) {
		return nil
	}
	l7, _ := raw["L7Settings"].(map[string]any)
	def := truthy(l7["defaultIngController"], true)
	if v := ic["isDefault"]; v != nil && fmt.Sprint(v) != "" {
		def = truthy(v, false)
	}
	return &ChartIngressClass{Name: name, IsDefault: def}
}

// truthy reads a Helm value as the chart's "vipgate.true" does: true, or the
// string "true"; nil (unset) gives def.
func truthy(v any, def bool) bool {
	switch x := v.(type) {
	case nil:
		return def
	case bool:
		return x
	case string:
		return x == "true"
	}
	return false
}

// IngressClasses are the IngressClasses of vipgate's assumed to exist in the
// cluster besides those of a manifest set: the ones named (named is true
// when the user named any, even none), else the chart's class of a Helm
// values file, else the chart's default, avi-lb. A named first class, or
// avi-lb, is the default class when L7Settings.defaultIngController is true,
// as the chart makes its class by default.
func (sf *SettingsFile) IngressClasses(names []string, named bool) []networkingv1.IngressClass {
	def := ""
	switch {
	case !named && sf.HelmValues:
		names = nil
		if c := sf.IngressClass; c != nil {
			names = []string{c.Name}
			if c.IsDefault {
				def = c.Name
			}
		}
	case !named:
		names = []string{"avi-lb"}
		fallthrough
	default:
		if len(names) > 0 && bool(sf.Settings.L7Settings.DefaultIngController) {
			def = names[0]
		}
	}
	return VipgateClasses(names, def)
}
