// Package avisim is a simulated Avi (NSX ALB) Controller.
//
// It speaks the subset of the Avi REST API that vipgate (through
// github.com/vmware/alb-sdk) uses: session login with CSRF cookies, tenants,
// CRUD and collection queries on the object types vipgate reads or writes,
// reference resolution and referential integrity, and IPAM from the static
// VIP ranges of networks. It exists so that the operator, its tests and its
// benchmarks can run against something that fails the way the real
// controller fails (strict decoding, 400/409 messages, 401 re-login, 5xx
// retries) without an Avi licence.
//
// The simulator is usable in-process (New, then Start/StartTLS or Handler)
// and as a standalone binary (cmd/avisim). State lives only in memory.
package avisim
