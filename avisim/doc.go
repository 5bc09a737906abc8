// Package avisim is a simulated Avi (NSX ALB) Controller.
//
// It speaks the subset of the Avi REST API that vipgate (through
// github.com/vmware/alb-sdk) uses: session login with CSRF cookies, tenants,
// CRUD and collection queries on the object types vipgate reads or writes,
// reference resolution and referential integrity, and IPAM from the static
// VIP ranges of networks, or, on AWS, Azure and Google Cloud clouds whose
// IPAM profile is the provider's, from any address of the network's subnet
// the provider does not reserve (subnet_uuid names it on AWS and Azure, as
// AKO sends it). It exists so that the operator, its tests and its
// benchmarks can run against something that fails the way the real
// controller fails (strict decoding, 400/409 messages, 401 re-login, 5xx
// retries) without an Avi licence.
//
// The simulator is usable in-process (New, then Start/StartTLS or Handler)
// and as a standalone binary (cmd/avisim). State lives only in memory.
//
// # Endpoints
//
//   - POST /login, POST /logout: sessions (cookies sessionid, avi-sessionid,
//     csrftoken). Writes need X-CSRFToken and Referer (403 otherwise), every
//     /api call needs X-Avi-Version (400) and a live session (401).
//   - GET /api/initial-data, /api/cluster/status, /api/cluster/runtime: no
//     session needed; alb-sdk polls /api/cluster/status after failures, AKO
//     reads the leader's up_since from /api/cluster/runtime.
//   - /api/<type>[/<uuid>] for the types in KindNames: GET, POST, PUT, PATCH
//     (alb-sdk's {"add"|"replace"|"delete": {...}}), DELETE. Collections
//     take name, name.contains, name.icontains, name.in, uuid, uuid.in,
//     refers_to, referred_by, cloud, cloud_uuid, label_key/label_value,
//     fields, include_name (its presence is the request, as AKO's bare
//     "?include_name" relies on), skip_default, page and page_size (default
//     25, at most 200; "next" links the following page), and filters on any
//     top-level field: created_by=x, type=VS_TYPE_VH_PARENT,
//     <field>.contains/.icontains/.in, <ref field>.name/.uuid
//     (cloud_ref.name, vrf_context_ref.name). A query parameter avisim
//     does not know, or does not implement (sort, search, ...), is a 400:
//     an ignored filter would return every object and hide the client's
//     mistake.
//   - /api/systemconfiguration (GET, PUT, PATCH; uuid "default"): the
//     license tier (default_license_tier). /api/cluster (GET): the
//     controller cluster's uuid. /api/ipamdnsproviderprofiledomainlist
//     ?cloud_uuid= (GET): the DNS sub-domains of the cloud's DNS profile.
//   - /admin/faults (GET, POST a FaultRequest, DELETE), /admin/counters
//     (GET, DELETE), /admin/objects?tenant=&type=: unauthenticated test
//     controls, never subject to faults.
//   - /admin/dataplane (?format=text): with Options.DataPlane set, virtual
//     services answer on their VIPs (package avisim/dataplane, a simulated
//     Service Engine); this lists where each VIP port is served
//     ("vip:port/proto → 127.0.0.1:port") with counters per virtual service
//     and pool server.
//
// CALLS.md lists every call AKO makes and what avisim answers, with the
// test that covers it.
//
// # What the controller fills in or refuses
//
// A fresh controller's System-* objects (profiles, monitors, certificates,
// WAF policy, ...) are seeded with their type fields. Required fields
// without a default are a 400; those with one (Cloud.vtype, StringGroup
// type, WafPolicy mode, ...) get it. A virtual service that names no
// application or network profile gets System-HTTP and System-TCP-Proxy
// (System-L4-Application and System-TCP-Fast-Path on ESSENTIALS), and one
// with an SSL port and no certificate gets System-Default-Cert and
// System-Default-Cert-EC with System-Standard. License tiers
// (Seed.LicenseTier, systemconfiguration, cloud and SE group license_tier)
// refuse what the swagger's "Allowed in ... edition" notes refuse, e.g. a
// TCP proxy network profile or an HTTP application profile on ESSENTIALS.
// A VsVip PUT that leaves a vip's ip_address out releases the address and
// allocates another free one when there is one.
//
// # Behaviour worth knowing on the client side
//
// Every error body is {"error": "..."}; alb-sdk surfaces it as a
// session.AviError (by value) whose HttpStatusCode is the status and whose
// Message is the Go rendering of the decoded body ("map[error:...]").
// Duplicate names and deleting a referenced object answer 409; bad
// references, unknown fields and IPAM failures 400; a PUT whose
// _last_modified is stale 412. alb-sdk returns a 500 at once, but retries
// 401 (after logging in again), 419 and other 5xx up to three attempts,
// polling /api/cluster/status in between.
package avisim
