package avisim

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// loginSession is one logged-in client. Tokens are random and never logged.
type loginSession struct {
	user    string
	csrf    string
	expires atomic.Int64 // unix nanoseconds; sliding on use
}

type sessions struct {
	mu  sync.RWMutex
	m   map[string]*loginSession
	ttl time.Duration
}

func newSessions(ttl time.Duration) *sessions {
	return &sessions{m: map[string]*loginSession{}, ttl: ttl}
}

func randomToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (ss *sessions) create(user string) (id string, s *loginSession) {
	id = randomToken()
	s = &loginSession{user: user, csrf: randomToken()}
	s.expires.Store(time.Now().Add(ss.ttl).UnixNano())
	ss.mu.Lock()
	ss.m[id] = s
	ss.mu.Unlock()
	return id, s
}

// lookup returns the live session named by the request's cookies and
// extends its idle timeout.
func (ss *sessions) lookup(r *http.Request) (*loginSession, string) {
	id := ""
	for _, name := range []string{"avi-sessionid", "sessionid"} {
		if c, err := r.Cookie(name); err == nil && c.Value != "" {
			id = c.Value
			break
		}
	}
	if id == "" {
		return nil, "Authentication credentials were not provided."
	}
	ss.mu.RLock()
	s := ss.m[id]
	ss.mu.RUnlock()
	now := time.Now()
	if s == nil || now.UnixNano() > s.expires.Load() {
		if s != nil {
			ss.drop(id)
		}
		return nil, "Invalid or expired session; log in again."
	}
	s.expires.Store(now.Add(ss.ttl).UnixNano())
	return s, ""
}

func (ss *sessions) drop(id string) {
	ss.mu.Lock()
	delete(ss.m, id)
	ss.mu.Unlock()
}

func (ss *sessions) expireAll() {
	ss.mu.Lock()
	ss.m = map[string]*loginSession{}
	ss.mu.Unlock()
}

func (ss *sessions) count() int {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	return len(ss.m)
}
