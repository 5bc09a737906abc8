package bench

// This file: BenchmarkL7Ingresses, Ingresses created at once against vipgate
// running as its own process on LARGE shards (8 shared virtual services):
// time until every Ingress has status, controller writes per Ingress next to
// the objects that changed, and what one later shard sync reads. Run it
// alone (one per process):
//
//	BENCH_INGRESSES=5000 go test -run '^$' -bench '^BenchmarkL7Ingresses$' -benchtime 1x ./tests/bench/

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/config"
)

// ownedTypes are the controller object types vipgate writes.
var ownedTypes = []string{"vsvip", "sslkeyandcertificate", "pool", "poolgroup", "l4policyset", "httppolicyset", "virtualservice"}

// objectVersions maps "type/uuid" to _last_modified for every object of
// ownedTypes in the admin tenant.
func objectVersions(sim *recSim) map[string]string {
	out := map[string]string{}
	for _, typ := range ownedTypes {
		for _, o := range sim.Objects("admin", typ) {
			uuid, _ := o["uuid"].(string)
			out[typ+"/"+uuid] = fmt.Sprint(o["_last_modified"])
		}
	}
	return out
}

// changedObjects counts objects created, modified or deleted between two
// objectVersions: the least number of writes that could have made the change.
func changedObjects(before, after map[string]string) int {
	n := 0
	for k, v := range after {
		if old, ok := before[k]; !ok || old != v {
			n++
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			n++
		}
	}
	return n
}

var (
	shardNameRE = regexp.MustCompile(`^bench--Shared-L7-(\d+)$`)
	hostNameRE  = regexp.MustCompile(`^bench--(ing-\d+\.bench\.example\.com)`)
)

// shardOf is the LARGE shard an object of the benchmark belongs to, from its
// name: the shard's own virtual service and VsVip, or an object named after
// a host (pools, pool groups, SNI children, certificates, policy sets);
// -1 for anything else (the controller's System-* objects, L4 objects).
func shardOf(name string) int {
	if m := shardNameRE.FindStringSubmatch(name); m != nil {
		var n int
		fmt.Sscan(m[1], &n)
		return n
	}
	if m := hostNameRE.FindStringSubmatch(name); m != nil {
		return int(model.ShardIndex(m[1], config.ShardCount("LARGE")))
	}
	return -1
}

// shardReads sums what the reads of one shard sync returned: objects of the
// synced shard, objects of other shards, and the rest. The inventory's VIP
// listing (VsVips read with fields=, every VsVip on the controller by
// design) is left out of the other-shard count and reported apart.
type shardReads struct {
	gets, own, foreign, inventory, rest int
	byType                              map[string][2]int // type → GETs, objects returned
}

func readsOfShard(reads []readRecord, shard int) shardReads {
	s := shardReads{gets: len(reads), byType: map[string][2]int{}}
	for _, r := range reads {
		t := s.byType[r.Type]
		t[0]++
		t[1] += len(r.Names)
		s.byType[r.Type] = t
		inventory := r.Type == "vsvip" && r.Query.Get("fields") != ""
		for _, n := range r.Names {
			switch sh := shardOf(n); {
			case inventory:
				s.inventory++
			case sh == shard:
				s.own++
			case sh >= 0:
				s.foreign++
			default:
				s.rest++
			}
		}
	}
	return s
}

func (s shardReads) String() string {
	keys := make([]string, 0, len(s.byType))
	for k := range s.byType {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d GETs returning %d objects of the shard, %d of other shards, %d in the inventory's VsVip listing, %d others; by type:", s.gets, s.own, s.foreign, s.inventory, s.rest)
	for _, k := range keys {
		fmt.Fprintf(&sb, " %s %d GETs/%d objects;", k, s.byType[k][0], s.byType[k][1])
	}
	return sb.String()
}

// shardObjects counts the objects on the controller that belong to shard.
func shardObjects(sim *recSim, shard int) int {
	n := 0
	for _, typ := range ownedTypes {
		for _, o := range sim.Objects("admin", typ) {
			if name, _ := o["name"].(string); shardOf(name) == shard {
				n++
			}
		}
	}
	return n
}

// BenchmarkL7Ingresses measures BENCH_INGRESSES (default 5000) Ingresses of
// pbPaths paths each (every other one with TLS), created at once by
// BENCH_CLIENTS clients (default 50) on LARGE shards:
//
//   - l7-status-s: from the first create until every Ingress has status
//     (goal < 30 s); l7-create-s the creates alone; l7-p50-ms, l7-p99-ms
//     each Ingress's create → status;
//   - l7-writes-per-ingress: controller writes until vipgate is idle, per
//     Ingress, next to l7-changed-per-ingress, the objects created, changed
//     or deleted per Ingress (goal: writes ≤ changed);
//   - l7-sync-*: one shard sync after one Ingress changed (a path
//     renamed): GETs, objects of that shard and of other shards its reads
//     returned (goal: none of other shards), and l7-shard-objects, what the
//     shard holds.
func BenchmarkL7Ingresses(b *testing.B) {
	claimCluster(b)
	ctx := context.Background()
	n := envInt(b, "BENCH_INGRESSES", 5000)
	clients := envInt(b, "BENCH_CLIENTS", 50)
	seed, err := avisim.ParseSeed([]byte(bigSeed))
	if err != nil {
		b.Fatal(err)
	}
	sim := startRecSim(b, seed)
	pbBase(b)
	// The TLS Secrets exist before vipgate starts, so its cache has them
	// when the Ingresses that name them are admitted.
	pbSecrets(b, 0, n, clients)
	dir := procDir(b, sim)
	p := startVipgateProc(b, dir, sim.Host(), 1)
	p.waitIdle(b, sim.calls, 0, 2*time.Minute)
	watch := watchStatus(b, &networkingv1.Ingress{}, "ing-")

	before := objectVersions(sim)
	sim.ResetCounts()
	var retries atomic.Int64
	created := make([]time.Time, n)
	cpu := p.profile(b, "cpu-ingresses", "cpu")
	apiCPU := apiserverProfile(b, dir, "cpu-apiserver-ingresses")
	meter := newCPUMeter(b, p)
	cpu0 := meter.sample()
	api0 := scrapeAPIServer(b)
	b.ResetTimer()
	t0 := time.Now()
	err = parallel(clients, n, func(i int) error {
		created[i] = time.Now()
		return pbCreate(ctx, pbIngress(i), &retries)
	})
	if err != nil {
		b.Fatalf("creating Ingresses: %v", err)
	}
	createdIn := time.Since(t0)
	all := watch.waitN(b, "ing-", n, waitLimit(n)).Sub(t0)
	b.StopTimer()
	p.waitIdle(b, sim.calls, 0, waitLimit(n))
	used, _ := meter.since(cpu0)
	api := apiMetricsSince(api0, scrapeAPIServer(b), n)
	cpu()
	apiCPU()
	counts, writes := sim.Counts(), sim.Writes()
	changed := changedObjects(before, objectVersions(sim))
	var lat []time.Duration
	for key, at := range watch.times("ing-") {
		var i int
		if _, err := fmt.Sscanf(key[strings.Index(key, "/")+1:], "ing-%d", &i); err == nil && i < n {
			lat = append(lat, at.Sub(created[i]))
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })

	// One shard sync: Ingress 1's last path renamed. Recorded until vipgate
	// is idle and the controller has the new pool.
	const probe = 1
	shard := int(model.ShardIndex(pbHost(probe), config.ShardCount("LARGE")))
	newPool := model.L7PoolName("bench", nil, pbHost(probe), fmt.Sprintf("/p%d-renamed", pbPaths-1), pbNS(probe), fmt.Sprintf("ing-%d", probe), pbSecure(probe), false)
	patch, _ := json.Marshal([]map[string]any{{"op": "replace", "path": fmt.Sprintf("/spec/rules/0/http/paths/%d/path", pbPaths-1), "value": fmt.Sprintf("/p%d-renamed", pbPaths-1)}})
	sim.ResetCounts()
	sim.record(true)
	ing := pbIngress(probe)
	if err := env.Client.Patch(ctx, ing, client.RawPatch(types.JSONPatchType, patch)); err != nil {
		b.Fatalf("changing Ingress %s: %v", ing.Name, err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for simObject(sim, "pool", newPool) == nil {
		if time.Now().After(deadline) {
			b.Fatalf("pool %s not on the controller 2 minutes after the Ingress changed", newPool)
		}
		time.Sleep(200 * time.Millisecond)
	}
	p.waitIdle(b, sim.calls, 0, 2*time.Minute)
	sim.record(false)
	sync := readsOfShard(sim.recorded(), shard)
	syncCounts := sim.Counts()

	rss, hwm := p.memMiB(b)
	b.ReportMetric(float64(n), "l7-ingresses")
	b.ReportMetric(all.Seconds(), "l7-status-s")
	b.ReportMetric(createdIn.Seconds(), "l7-create-s")
	b.ReportMetric(millis(lat, 0.50), "l7-p50-ms")
	b.ReportMetric(millis(lat, 0.99), "l7-p99-ms")
	b.ReportMetric(float64(writes)/float64(n), "l7-writes-per-ingress")
	b.ReportMetric(float64(changed)/float64(n), "l7-changed-per-ingress")
	b.ReportMetric(float64(sync.gets), "l7-sync-gets")
	b.ReportMetric(float64(sync.own), "l7-sync-own-objects")
	b.ReportMetric(float64(sync.foreign), "l7-sync-foreign-objects")
	b.ReportMetric(float64(shardObjects(sim, shard)), "l7-shard-objects")
	b.ReportMetric(rss, "rss-MiB")
	b.ReportMetric(hwm, "hwm-MiB")
	b.Logf("%d Ingresses × %d paths (half with TLS) by %d clients on LARGE shards: created in %s, all with status after %s; %d controller writes for %d changed objects; %d create retries; calls %s",
		n, pbPaths, clients, createdIn.Round(time.Millisecond), all.Round(time.Millisecond), writes, changed, retries.Load(), fmtCounts(counts))
	b.Logf("CPU used from the first create until vipgate was idle: %s", used)
	b.Logf("API server, from the first create until vipgate was idle (per Ingress): %s", api)
	b.Logf("shard sync of bench--Shared-L7-%d (%d objects) after one Ingress changed: %s; calls %s", shard, shardObjects(sim, shard), sync, fmtCounts(syncCounts))
}

// millis is the p-quantile of sorted durations in milliseconds (0 if none).
func millis(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return rlMillis(sorted, p)
}

// simObject is the object of type typ named name in the admin tenant, or nil.
func simObject(sim *recSim, typ, name string) map[string]any {
	for _, o := range sim.Objects("admin", typ) {
		if o["name"] == name {
			return o
		}
	}
	return nil
}
