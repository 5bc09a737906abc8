package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/go-playground/validator/v10"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

var clusterNameRE = regexp.MustCompile(`^[a-zA-Z0-9-_]+$`)
var aviVersionRE = regexp.MustCompile(`^\d+\.\d+\.\d+$`)

// Load reads a settings file, lays it over AKO's defaults and validates it.
func Load(path string) (*Settings, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading settings: %w", err)
	}
	return Parse(data)
}

// Parse decodes settings YAML over the defaults and validates the result.
// Unknown keys are errors: a misspelt AKO key would otherwise be silently ignored.
func Parse(data []byte) (*Settings, error) {
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	if problems := keyProblems(raw, reflect.TypeOf(Settings{}), ""); len(problems) > 0 {
		sort.Strings(problems)
		return nil, ValidationErrors(problems)
	}
	s := Defaults()
	if err := yaml.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	if err := Validate(&s); err != nil {
		return nil, err
	}
	return &s, nil
}

// keyProblems names every key that is not a settings key, with its path, so a
// misspelt AKO key is reported instead of silently ignored, and every
// boolean that is not one: decoding would report it without its key.
func keyProblems(v any, t reflect.Type, path string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	switch t.Kind() {
	case reflect.Bool:
		if t == reflect.TypeOf(Bool(false)) && v != nil {
			raw, err := json.Marshal(v)
			var b Bool
			if err == nil {
				err = b.UnmarshalJSON(raw)
			}
			if err != nil {
				out = append(out, path+": "+err.Error())
			}
		}
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		fields := map[string]reflect.Type{}
		for i := 0; i < t.NumField(); i++ {
			name := strings.Split(t.Field(i).Tag.Get("json"), ",")[0]
			if name != "-" {
				fields[name] = t.Field(i).Type
			}
		}
		for k, sub := range m {
			ft, ok := fields[k]
			key := k
			if path != "" {
				key = path + "." + k
			}
			if !ok {
				out = append(out, key+": unknown key")
				continue
			}
			out = append(out, keyProblems(sub, ft, key)...)
		}
	case reflect.Slice:
		items, ok := v.([]any)
		if !ok {
			return nil
		}
		for i, item := range items {
			out = append(out, keyProblems(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return out
}

// ValidationErrors lists every problem of a settings document, one per key.
type ValidationErrors []string

func (v ValidationErrors) Error() string {
	return fmt.Sprintf("invalid settings (%d problems):\n  %s", len(v), strings.Join(v, "\n  "))
}

var validate = newValidator()

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	// Report keys by their YAML names so messages match the values file.
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name := strings.Split(f.Tag.Get("json"), ",")[0]
		if name == "-" {
			return ""
		}
		return name
	})
	must(v.RegisterValidation("clustername", func(fl validator.FieldLevel) bool {
		return clusterNameRE.MatchString(fl.Field().String())
	}))
	must(v.RegisterValidation("aviversion", func(fl validator.FieldLevel) bool {
		return aviVersionRE.MatchString(fl.Field().String())
	}))
	must(v.RegisterValidation("dns1123label", func(fl validator.FieldLevel) bool {
		return len(validation.IsDNS1123Label(fl.Field().String())) == 0
	}))
	must(v.RegisterValidation("hostport", func(fl validator.FieldLevel) bool {
		h := fl.Field().String()
		if host, _, err := net.SplitHostPort(h); err == nil {
			h = host
		}
		return h != "" && !strings.ContainsAny(h, "/ ")
	}))
	return v
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// Validate checks every key and returns all problems at once, each naming its key path.
func Validate(s *Settings) error {
	var out ValidationErrors
	if err := validate.Struct(s); err != nil {
		var verrs validator.ValidationErrors
		if !errors.As(err, &verrs) {
			return err
		}
		for _, fe := range verrs {
			out = append(out, keyPath(fe.Namespace())+": "+describe(fe))
		}
	}
	out = append(out, crossChecks(s)...)
	if len(out) == 0 {
		return nil
	}
	sort.Strings(out)
	return out
}

// crossChecks are the rules that span several keys.
func crossChecks(s *Settings) []string {
	var out []string
	seen := map[string]bool{}
	// Antrea is what maps pod ports to node ports (AKO refuses the same).
	if s.L7Settings.ServiceType == "NodePortLocal" && s.AKOSettings.CNIPlugin != "antrea" {
		out = append(out, fmt.Sprintf("L7Settings.serviceType: NodePortLocal needs AKOSettings.cniPlugin antrea (it is %q): Antrea maps pod ports to node ports; set cniPlugin: antrea, or use ClusterIP or NodePort",
			s.AKOSettings.CNIPlugin))
	}
	for i, n := range s.NetworkSettings.VIPNetworkList {
		key := n.NetworkName + "/" + n.NetworkUUID
		if seen[key] {
			out = append(out, fmt.Sprintf("NetworkSettings.vipNetworkList[%d]: duplicate network %q", i, n.NetworkName+n.NetworkUUID))
		}
		seen[key] = true
		if n.V6CIDR != "" && s.AKOSettings.IPFamily != "V6" {
			out = append(out, fmt.Sprintf("NetworkSettings.vipNetworkList[%d].v6cidr: needs AKOSettings.ipFamily V6", i))
		}
	}
	return out
}

// keyPath turns "Settings.AKOSettings.clusterName" into "AKOSettings.clusterName".
func keyPath(ns string) string {
	if i := strings.IndexByte(ns, '.'); i >= 0 {
		return ns[i+1:]
	}
	return ns
}

func describe(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "is required"
	case "required_with":
		return "is required when " + fe.Param() + " is set"
	case "required_without":
		return "is required when " + fe.Param() + " is not set"
	case "oneof":
		return fmt.Sprintf("must be one of [%s], got %q", strings.ReplaceAll(fe.Param(), " ", ", "), fmt.Sprint(fe.Value()))
	case "clustername":
		return "must match " + clusterNameRE.String()
	case "max":
		return "must be at most " + fe.Param() + " characters"
	case "min":
		return "must be at least " + fe.Param()
	case "aviversion":
		return fmt.Sprintf("must be a controller version like 22.1.3, got %q", fmt.Sprint(fe.Value()))
	case "dns1123label":
		return fmt.Sprintf("must be a namespace name, got %q", fmt.Sprint(fe.Value()))
	case "hostport":
		return fmt.Sprintf("must be a host name or address with optional port, got %q", fmt.Sprint(fe.Value()))
	case "cidrv4":
		return fmt.Sprintf("must be an IPv4 CIDR like 10.0.0.0/24, got %q", fmt.Sprint(fe.Value()))
	case "cidrv6", "cidr":
		return fmt.Sprintf("must be a CIDR, got %q", fmt.Sprint(fe.Value()))
	case "fqdn":
		return fmt.Sprintf("must be a DNS domain, got %q", fmt.Sprint(fe.Value()))
	case "number":
		return fmt.Sprintf("must be a number of seconds, got %q", fmt.Sprint(fe.Value()))
	}
	return fmt.Sprintf("fails rule %q", fe.Tag())
}
