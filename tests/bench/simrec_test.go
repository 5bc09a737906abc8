package bench

// This file: avisim served in the test process behind a recorder, so a
// benchmark can see not only how many calls vipgate made (avisim's own
// counters) but what each read asked for and how many objects it returned.

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vipgate/vipgate/avisim"
)

// readRecord is one GET vipgate made on the controller's API.
type readRecord struct {
	Type  string
	Query url.Values
	// Names are the objects the answer held (one for a GET by UUID, the
	// results of a list).
	Names []string
	// Single is a read of one object: by UUID, or a list filtered by name.
	Single bool
}

// recSim is avisim with a recorder of reads in front of it.
type recSim struct {
	*avisim.Sim
	srv       *httptest.Server
	recording atomic.Bool
	mu        sync.Mutex
	reads     []readRecord
}

// startRecSim starts avisim with seed over TLS on a loopback port, behind
// the recorder; it closes at cleanup.
func startRecSim(b *testing.B, seed *avisim.Seed) *recSim {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	// The simulator writes its own address into urls and references: give it
	// the listener's before it loads the seed.
	sim, err := avisim.New(avisim.Options{Seed: seed, Username: "admin", Password: "admin", Host: l.Addr().String()})
	if err != nil {
		b.Fatal(err)
	}
	r := &recSim{Sim: sim}
	r.srv = httptest.NewUnstartedServer(r)
	r.srv.Listener.Close()
	r.srv.Listener = l
	r.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	r.srv.StartTLS()
	b.Cleanup(func() {
		r.srv.CloseClientConnections()
		r.srv.Close()
	})
	return r
}

// CACertPEM is the recorder's TLS certificate, which a client verifies
// (the recorder terminates TLS in front of the simulator).
func (r *recSim) CACertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.srv.Certificate().Raw})
}

// Host is "127.0.0.1:port", the controllerHost for vipgate's settings.
func (r *recSim) Host() string { return r.srv.Listener.Addr().String() }

// record turns recording of reads on (clearing earlier ones) or off.
func (r *recSim) record(on bool) {
	r.mu.Lock()
	if on {
		r.reads = nil
	}
	r.mu.Unlock()
	r.recording.Store(on)
}

// recorded returns the reads recorded so far.
func (r *recSim) recorded() []readRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]readRecord(nil), r.reads...)
}

// calls is the controller's call counter summed over methods and types.
func (r *recSim) calls() int {
	n := 0
	for _, c := range r.Counts() {
		n += c
	}
	return n
}

func (r *recSim) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	typ, uuid, _ := strings.Cut(strings.Trim(strings.TrimPrefix(req.URL.Path, "/api/"), "/"), "/")
	if !r.recording.Load() || req.Method != http.MethodGet || !strings.HasPrefix(req.URL.Path, "/api/") {
		r.Sim.ServeHTTP(w, req)
		return
	}
	cw := &captureWriter{ResponseWriter: w}
	r.Sim.ServeHTTP(cw, req)
	q := req.URL.Query()
	rec := readRecord{Type: typ, Query: q, Names: answerNames(cw.body.Bytes()), Single: uuid != "" || q.Get("name") != ""}
	r.mu.Lock()
	r.reads = append(r.reads, rec)
	r.mu.Unlock()
}

// answerNames lists the object names in an API answer: a list's results or
// a single object.
func answerNames(body []byte) []string {
	var list struct {
		Results []struct {
			Name string `json:"name"`
		} `json:"results"`
		Name string `json:"name"`
	}
	if json.Unmarshal(body, &list) != nil {
		return nil
	}
	if list.Results == nil {
		if list.Name != "" {
			return []string{list.Name}
		}
		return nil
	}
	out := make([]string, 0, len(list.Results))
	for _, o := range list.Results {
		out = append(out, o.Name)
	}
	return out
}

// captureWriter keeps a copy of what it passes on.
type captureWriter struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (c *captureWriter) Write(p []byte) (int, error) {
	c.body.Write(p)
	return c.ResponseWriter.Write(p)
}
