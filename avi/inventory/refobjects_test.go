package inventory

import (
	"fmt"
	"slices"
	"testing"
)

func TestFirstRefNames(t *testing.T) {
	tbl := RefTable{}
	tbl.Add("team-a", "b-own", RefObject{Kind: "HTTP"})
	tbl.Add("team-a", "a-shared", RefObject{Kind: "HTTP"}) // also in admin: counted once
	tbl.Add("team-a", "z-l4", RefObject{Kind: "L4"})
	tbl.Add(AdminTenant, "a-shared", RefObject{Kind: "HTTP"})
	tbl.Add(AdminTenant, "c-admin", RefObject{Kind: "HTTP"})
	tbl.Add(AdminTenant, "d-generated", RefObject{Kind: "HTTP", CreatedBy: "vipgate-demo"})
	tbl.Add(AdminTenant, "z-l4", RefObject{Kind: "HTTP"}) // the tenant's is L4: admin's still counts
	for i := range 50 {
		tbl.Add(AdminTenant, fmt.Sprintf("m-%02d", i), RefObject{Kind: "L4"})
	}
	s := &Snapshot{Refs: map[string]RefTable{"applicationprofile": tbl}}
	tests := []struct {
		name, tenant string
		limit        int
		kinds        []string
		want         []string
		wantTotal    int
	}{
		{"tenant and admin, one kind", "team-a", 10, []string{"HTTP"}, []string{"a-shared", "b-own", "c-admin", "z-l4"}, 4},
		{"cut to the first sorted", "team-a", 3, nil, []string{"a-shared", "b-own", "c-admin"}, 54},
		{"admin only", AdminTenant, 2, []string{"L4"}, []string{"m-00", "m-01"}, 50},
		{"none of the kind", "team-a", 5, []string{"DNS"}, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			first, total := s.FirstRefNames("applicationprofile", tc.tenant, "vipgate-demo", tc.limit, tc.kinds...)
			if !slices.Equal(first, tc.want) || total != tc.wantTotal {
				t.Errorf("got %v of %d, want %v of %d", first, total, tc.want, tc.wantTotal)
			}
			all := s.RefNames("applicationprofile", tc.tenant, "vipgate-demo", tc.kinds...)
			if len(all) != total || !slices.Equal(all[:min(tc.limit, len(all))], first) {
				t.Errorf("disagrees with RefNames %v", all)
			}
		})
	}
}
