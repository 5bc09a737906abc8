package chaos

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestGenerateIsAFunctionOfTheSeed: the same seed gives the same sequence,
// another seed another one, and the step file round-trips.
func TestGenerateIsAFunctionOfTheSeed(t *testing.T) {
	a, b := Generate(42, 300, 2, true), Generate(42, 300, 2, true)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Fatal("seed 42 gave two different sequences")
	}
	if jc, _ := json.Marshal(Generate(43, 300, 2, true)); string(jc) == string(ja) {
		t.Fatal("seeds 42 and 43 gave the same sequence")
	}
	path := filepath.Join(t.TempDir(), "steps.jsonl")
	if err := writeSteps(path, a); err != nil {
		t.Fatal(err)
	}
	back, err := readSteps(path)
	if err != nil {
		t.Fatal(err)
	}
	if jback, _ := json.Marshal(back); string(jback) != string(ja) {
		t.Fatal("the step file does not read back as written")
	}
}

// TestGenerateCarriesEveryScenario: every run long enough carries the five
// scenarios, ends at a quiescent point and numbers its steps.
func TestGenerateCarriesEveryScenario(t *testing.T) {
	for _, seed := range append(slices.Clone(ciSeeds), 7, 99, 12345) {
		for _, clusters := range []int{1, 2} {
			ops := Generate(seed, minScenarioSteps, clusters, true)
			seen := map[string]bool{}
			for i, o := range ops {
				if o.Step != i+1 {
					t.Fatalf("seed %d: op %d has step %d", seed, i, o.Step)
				}
				if o.C >= clusters {
					t.Fatalf("seed %d, %d clusters: %s", seed, clusters, o)
				}
				if o.Note != "" {
					seen[strings.TrimPrefix(o.Note, "scenario: ")] = true
				}
			}
			for _, want := range []string{"name collision", "full AviInfraSetting", "restart before the inventory loads", "second cluster with the same name", "shared-VIP group race"} {
				if !seen[want] {
					t.Errorf("seed %d, %d clusters: no %q scenario", seed, clusters, want)
				}
			}
			if last := ops[len(ops)-1]; last.Kind != OpQuiesce {
				t.Errorf("seed %d: the run ends with %s, not a quiescent point", seed, last)
			}
		}
	}
}

// TestCISeedsCoverBothClouds: the fixed seeds of make test run one on each
// cloud flavour (the restart scenario needs AWS's three-vip VsVips).
func TestCISeedsCoverBothClouds(t *testing.T) {
	got := map[string]bool{}
	for _, s := range ciSeeds {
		got[flavourOf(s)] = true
	}
	if !got[FlavourAWS] || !got[FlavourVCenter] {
		t.Fatalf("CI seeds %v cover clouds %v; want both", ciSeeds, got)
	}
}
