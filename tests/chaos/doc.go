// Package chaos is vipgate's randomized, seeded fault testing: a run drives
// random operations against real API servers (envtest), vipgate replicas
// running as processes, and avisim with its data plane, while a checker
// judges invariants continuously and at each quiescent point. It finds the
// defects that live in interleavings (a restart before the inventory loads,
// two owners racing, a namespace moving tenant during an outage), which
// scenario tests written one at a time miss.
//
// A run:
//
//   - Clusters: one or two (CHAOS_CLUSTERS), each its own API server and
//     vipgate processes on the same simulated controller: "demo" with two
//     replicas under leader election behind a fan-in standing where the API
//     server calls the webhooks (a Service in front of the pods), "west" with
//     one. The cloud is vCenter-like (one VIP per VsVip) or AWS-like (three,
//     one per availability zone), chosen by the seed (CHAOS_CLOUD overrides).
//   - Operations (Generate, a pure function of the seed): Services (automatic
//     and requested VIPs, shared-VIP groups, ports and protocols, class and
//     type changes, AviInfraSetting annotations), their EndpointSlices (echo
//     backends standing in for pods), Ingresses (hosts, paths, TLS, classes),
//     TLS Secrets (create, rotate, delete; valid, expired, mismatched),
//     Namespaces (namespaceSelector label, tenant, AviInfraSetting),
//     AviInfraSettings (create, edit, delete), Nodes (pod CIDRs); controller
//     faults (5xx bursts, 500s, slow responses, 401 session expiry, 409,
//     down, a network blackhole past the client's timeout); an admin deleting
//     a Service's virtual service and pools on the controller (ctl.delete:
//     only the full sync puts them back, behind the same VsVip); kill -9, graceful
//     stop and restart of replicas; and five scenarios every run carries
//     (Generate's documentation). Faults and restarts are operations in the
//     sequence, never chosen by timing. vipgate runs a full sync every 20 s
//     (fullSyncFrequency), so its rounds (the controller read again while
//     applies go on, every key queued) meet the faults too.
//   - Oracles: admission answers come from the rule book (package rules)
//     judging the suite's own view of the cluster (admission.go); the
//     controller state expected for the Kubernetes state is built
//     independently of vipgate's reconcilers (expect.go).
//
// Invariants, each check counted as passed or failed:
//
//	(1) a live Service's or Ingress host's VIP (status and VsVip) changes
//	    only in a segment (the steps between two quiescent points) in which
//	    an operation that may change it was issued (on it, its shared-VIP
//	    group, namespace or AviInfraSetting);
//	(2) no VIP has two owners, in status or on the controller (a shared-VIP
//	    group is one owner), for more than two seconds;
//	(3) at a quiescent point the controller holds, per cluster, exactly the
//	    expected objects: none missing, no orphan, the other cluster's
//	    untouched; static routes per node. A scenario also converges one
//	    namespace between rounds of its changes with faults still on (3, 4
//	    and 7 for that namespace, within a bound), and there the controller
//	    refuses none of vipgate's writes while no fault but latency was
//	    injected: a refusal from a healthy controller means vipgate sent
//	    something inconsistent (two writers building one object from
//	    different views);
//	(4) status equals the controller;
//	(5) admission agrees with the rule book; fail-open windows (inventory not
//	    loaded, warned), an inventory behind on the VIPs in use, informer lag
//	    (the same request answered as the rule book a moment later), the
//	    state moving between the oracle's read and vipgate's answer (a
//	    fresh read of the rule book agrees with vipgate) and an unreachable
//	    webhook are counted, not failed; a request admitted against the
//	    rule book is undone;
//	(6) requests through every VIP whose Service, endpoints and dependencies
//	    did not change never fail (vipgate restarts, failovers and controller
//	    outages included), and every VIP whose objects are in place serves at
//	    the quiescent point;
//	(7) pool servers equal the endpoints within the bound (CHAOS_BOUND,
//	    90s) after faults end.
//
// Data races the vipgate processes report (they run with -race when the test
// does) are counted too.
//
// Environment: CHAOS_SEED (a number or "random"; unset: the fixed CI seeds
// and one random one, side by side unless CHAOS_PARALLEL=0), CHAOS_STEPS
// (200), CHAOS_CLUSTERS (2), CHAOS_CLOUD (vcenter or aws), CHAOS_BOUND,
// CHAOS_PACE (pause between steps, 25ms),
// CHAOS_SCENARIOS=0 (random operations only), CHAOS_FAILFAST=1,
// CHAOS_REPLAY=<steps.jsonl> (run a step file, possibly shortened by hand),
// CHAOS_VIPGATE_BIN (a prebuilt vipgate). Every run prints its seed first
// and writes its log, step file and report under .cache/chaos/; a failing
// run prints the seed, the command that reproduces it and the steps since
// the last quiescent point that passed.
package chaos
