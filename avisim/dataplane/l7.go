package dataplane

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vmware/alb-sdk/go/models"
)

// httpRule is one enabled HTTP request rule.
type httpRule struct {
	name      string
	host      *strMatch
	path      *strMatch
	hdrs      []*hdrMatch
	ports     []int
	portNot   bool
	hasPort   bool
	methods   []string
	methodNot bool
	proto     string
	protoNot  bool
	client    *ipMatch
	// never: the rule uses criteria avisim does not implement.
	never bool

	redirect *models.HTTPRedirectAction
	tgt      *target
	switched bool
	local    *models.HttpswitchingAction
	// hdrs and rewrite change the request the rule routes (request rules)
	// or the answer (response rules: hdrs only).
	hdrActs []*models.HTTPHdrAction
	rewrite *models.HTTPRewriteURLAction
}

// strMatch is a host header or path match.
type strMatch struct {
	criteria  string // without the HDR_ prefix: EQUALS, BEGINS_WITH, ...
	values    []string
	sensitive bool
	res       []*regexp.Regexp
}

type hdrMatch struct {
	name string
	m    *strMatch
}

func newStrMatch(criteria string, values []string, matchCase string) (*strMatch, error) {
	m := &strMatch{criteria: strings.TrimPrefix(criteria, "HDR_"), sensitive: matchCase == "SENSITIVE"}
	for _, v := range values {
		if !m.sensitive {
			v = strings.ToLower(v)
		}
		m.values = append(m.values, v)
	}
	if strings.HasPrefix(m.criteria, "REGEX_") {
		for _, v := range values {
			expr := v
			if !m.sensitive {
				expr = "(?i)" + v
			}
			re, err := regexp.Compile(expr)
			if err != nil {
				return nil, fmt.Errorf("regex %q: %v", v, err)
			}
			m.res = append(m.res, re)
		}
	}
	switch m.criteria {
	case "EXISTS", "DOES_NOT_EXIST", "EQUALS", "DOES_NOT_EQUAL", "BEGINS_WITH", "DOES_NOT_BEGIN_WITH",
		"CONTAINS", "DOES_NOT_CONTAIN", "ENDS_WITH", "DOES_NOT_END_WITH", "REGEX_MATCH", "REGEX_DOES_NOT_MATCH":
		return m, nil
	}
	return nil, fmt.Errorf("match criteria %q", criteria)
}

// match applies the criteria to s; present is false when the header is absent.
func (m *strMatch) match(s string, present bool) bool {
	switch m.criteria {
	case "EXISTS":
		return present
	case "DOES_NOT_EXIST":
		return !present
	}
	if !m.sensitive {
		s = strings.ToLower(s)
	}
	any := func(f func(v string) bool) bool { return slices.ContainsFunc(m.values, f) }
	switch m.criteria {
	case "EQUALS":
		return present && any(func(v string) bool { return s == v })
	case "DOES_NOT_EQUAL":
		return !any(func(v string) bool { return s == v })
	case "BEGINS_WITH":
		return present && any(func(v string) bool { return strings.HasPrefix(s, v) })
	case "DOES_NOT_BEGIN_WITH":
		return !any(func(v string) bool { return strings.HasPrefix(s, v) })
	case "CONTAINS":
		return present && any(func(v string) bool { return strings.Contains(s, v) })
	case "DOES_NOT_CONTAIN":
		return !any(func(v string) bool { return strings.Contains(s, v) })
	case "ENDS_WITH":
		return present && any(func(v string) bool { return strings.HasSuffix(s, v) })
	case "DOES_NOT_END_WITH":
		return !any(func(v string) bool { return strings.HasSuffix(s, v) })
	case "REGEX_MATCH":
		return present && slices.ContainsFunc(m.res, func(re *regexp.Regexp) bool { return re.MatchString(s) })
	case "REGEX_DOES_NOT_MATCH":
		return !slices.ContainsFunc(m.res, func(re *regexp.Regexp) bool { return re.MatchString(s) })
	}
	return false
}

// httpRules compiles the enabled request rules of a policy set, by index.
func (b *build) httpRules(owner string, ref *string) []*httpRule {
	kind, m := b.v.Get(refUUID(ref))
	if kind != "httppolicyset" {
		b.problem("virtual service %s: HTTP policy set %s not found", owner, str(ref))
		return nil
	}
	ps := m.(*models.HTTPPolicySet)
	if ps.HTTPRequestPolicy == nil {
		return nil
	}
	rules := slices.Clone(ps.HTTPRequestPolicy.Rules)
	slices.SortStableFunc(rules, func(a, c *models.HTTPRequestRule) int { return cmp.Compare(intOr(a.Index, 0), intOr(c.Index, 0)) })
	var out []*httpRule
	for _, r := range rules {
		if r == nil || !boolOr(r.Enable, true) {
			continue
		}
		hr := &httpRule{name: str(r.Name)}
		where := fmt.Sprintf("HTTP policy set %s rule %s", str(ps.Name), hr.name)
		unsupported := func(what string) {
			hr.never = true
			b.problem("%s: %s is not supported by avisim; the rule never matches", where, what)
		}
		b.compileMatch(hr, r.Match, unsupported)
		hr.redirect = r.RedirectAction
		hr.hdrActs, hr.rewrite = r.HdrAction, r.RewriteURLAction
		checkHdrActs(hr.hdrActs, unsupported)
		if rw := hr.rewrite; rw != nil {
			for _, p := range []*models.URIParam{rw.HostHdr, rw.Path} {
				if p == nil {
					continue
				}
				for _, t := range p.Tokens {
					if t != nil && !slices.Contains([]string{"URI_TOKEN_TYPE_HOST", "URI_TOKEN_TYPE_PATH", "URI_TOKEN_TYPE_STRING"}, str(t.Type)) {
						unsupported("rewrite token " + str(t.Type))
					}
				}
			}
		}
		if sa := r.SwitchingAction; sa != nil && hr.redirect == nil {
			switch str(sa.Action) {
			case "HTTP_SWITCHING_SELECT_POOL", "HTTP_SWITCHING_SELECT_POOLGROUP":
				hr.switched = true
				if str(sa.Action) == "HTTP_SWITCHING_SELECT_POOL" {
					hr.tgt = b.target(where, sa.PoolRef, nil)
				} else {
					hr.tgt = b.target(where, nil, sa.PoolGroupRef)
				}
			case "HTTP_SWITCHING_SELECT_LOCAL":
				hr.local = sa
			default:
				unsupported("switching action " + str(sa.Action))
			}
		}
		out = append(out, hr)
	}
	return out
}

// responseRules compiles the enabled response rules of a policy set, by
// index. Their criteria about the request see it as the client sent it
// (before request rules changed it), as the controller documents.
func (b *build) responseRules(ref *string) []*httpRule {
	kind, m := b.v.Get(refUUID(ref))
	if kind != "httppolicyset" {
		return nil // httpRules reported it
	}
	ps := m.(*models.HTTPPolicySet)
	if ps.HTTPResponsePolicy == nil {
		return nil
	}
	rules := slices.Clone(ps.HTTPResponsePolicy.Rules)
	slices.SortStableFunc(rules, func(a, c *models.HTTPResponseRule) int { return cmp.Compare(intOr(a.Index, 0), intOr(c.Index, 0)) })
	var out []*httpRule
	for _, r := range rules {
		if r == nil || !boolOr(r.Enable, true) {
			continue
		}
		hr := &httpRule{name: str(r.Name), hdrActs: r.HdrAction}
		where := fmt.Sprintf("HTTP policy set %s response rule %s", str(ps.Name), hr.name)
		unsupported := func(what string) {
			hr.never = true
			b.problem("%s: %s is not supported by avisim; the rule never matches", where, what)
		}
		if r.LocHdrAction != nil {
			unsupported("loc_hdr_action")
		}
		checkHdrActs(hr.hdrActs, unsupported)
		if mt := r.Match; mt != nil {
			if len(mt.RspHdrs) > 0 || mt.Status != nil || mt.LocHdr != nil {
				unsupported("matching the response (rsp_hdrs, status, loc_hdr)")
			}
			var req models.MatchTarget
			if raw, err := json.Marshal(mt); err == nil && json.Unmarshal(raw, &req) == nil {
				b.compileMatch(hr, &req, unsupported)
			} else {
				unsupported("match")
			}
		}
		out = append(out, hr)
	}
	return out
}

// compileMatch sets the match criteria of mt on hr, calling unsupported for
// criteria avisim does not implement.
func (b *build) compileMatch(hr *httpRule, mt *models.MatchTarget, unsupported func(string)) {
	if mt != nil {
		if h := mt.HostHdr; h != nil {
			sm, err := newStrMatch(str(h.MatchCriteria), h.Value, cmp.Or(str(h.MatchCase), "INSENSITIVE"))
			if err != nil {
				unsupported("host_hdr " + err.Error())
			}
			hr.host = sm
		}
		if p := mt.Path; p != nil {
			if len(p.StringGroupRefs) > 0 {
				unsupported("path string_group_refs")
			}
			sm, err := newStrMatch(cmp.Or(str(p.MatchCriteria), "CONTAINS"), p.MatchStr, cmp.Or(str(p.MatchCase), "INSENSITIVE"))
			if err != nil {
				unsupported("path " + err.Error())
			}
			hr.path = sm
		}
		for _, h := range mt.Hdrs {
			if h == nil {
				continue
			}
			sm, err := newStrMatch(str(h.MatchCriteria), h.Value, cmp.Or(str(h.MatchCase), "INSENSITIVE"))
			if err != nil {
				unsupported("hdrs " + err.Error())
				continue
			}
			hr.hdrs = append(hr.hdrs, &hdrMatch{name: str(h.Hdr), m: sm})
		}
		if p := mt.VsPort; p != nil {
			hr.hasPort, hr.portNot = true, str(p.MatchCriteria) == "IS_NOT_IN"
			for _, n := range p.Ports {
				hr.ports = append(hr.ports, int(n))
			}
		}
		if mm := mt.Method; mm != nil {
			hr.methodNot = str(mm.MatchCriteria) == "IS_NOT_IN"
			for _, x := range mm.Methods {
				hr.methods = append(hr.methods, strings.TrimPrefix(x, "HTTP_METHOD_"))
			}
		}
		if pm := mt.Protocol; pm != nil {
			hr.proto, hr.protoNot = str(pm.Protocols), str(pm.MatchCriteria) == "IS_NOT_IN"
		}
		if cm := mt.ClientIP; cm != nil {
			im, ok := newIPMatch(cm)
			if !ok {
				unsupported("client_ip with IP groups")
			}
			hr.client = im
		}
		switch {
		case mt.Cookie != nil:
			unsupported("cookie")
		case mt.Query != nil:
			unsupported("query")
		case mt.Version != nil:
			unsupported("version")
		case mt.SourceIP != nil:
			unsupported("source_ip")
		case len(mt.GeoMatches) > 0 || mt.BotDetectionResult != nil || mt.IPReputationType != nil || mt.TLSFingerprintMatch != nil:
			unsupported("geo, bot, IP reputation or TLS fingerprint matching")
		}
	}
}

// checkHdrActs reports header actions avisim does not apply: values taken
// from variables (client IP, ...) and cookie actions.
func checkHdrActs(acts []*models.HTTPHdrAction, unsupported func(string)) {
	for _, a := range acts {
		if a == nil {
			continue
		}
		if a.Cookie != nil {
			unsupported("cookie header actions")
		}
		if a.Hdr != nil && a.Hdr.Value != nil && a.Hdr.Value.Var != nil {
			unsupported("header values from variables")
		}
	}
}

// applyHdrActs applies header actions in order to h, and to host for the
// Host header (which Go keeps out of the header map).
func applyHdrActs(acts []*models.HTTPHdrAction, h http.Header, host *string) {
	for _, a := range acts {
		if a == nil || a.Hdr == nil {
			continue
		}
		name, val := str(a.Hdr.Name), ""
		if a.Hdr.Value != nil {
			val = str(a.Hdr.Value.Val)
		}
		if host != nil && strings.EqualFold(name, "Host") {
			if str(a.Action) != "HTTP_REMOVE_HDR" {
				*host = val
			}
			continue
		}
		switch str(a.Action) {
		case "HTTP_ADD_HDR":
			h.Add(name, val)
		case "HTTP_REPLACE_HDR":
			h.Set(name, val)
		case "HTTP_REMOVE_HDR":
			h.Del(name)
		}
	}
}

// rewriteRequest returns the request as the rule forwards it: its header
// actions applied, then its URL rewrite (Host header and path built from
// the tokens against the request as the client sent it; the query is
// kept only when the rewrite says so, when it rewrites the path).
func (r *httpRule) rewriteRequest(req *http.Request) *http.Request {
	if len(r.hdrActs) == 0 && r.rewrite == nil {
		return req
	}
	out := req.Clone(req.Context())
	applyHdrActs(r.hdrActs, out.Header, &out.Host)
	rw := r.rewrite
	if rw == nil {
		return out
	}
	if rw.HostHdr != nil {
		out.Host = tokens(rw.HostHdr, req, ".")
	}
	if rw.Path != nil {
		out.URL.Path = "/" + strings.TrimPrefix(tokens(rw.Path, req, "/"), "/")
		out.URL.RawPath = ""
		q := ""
		if rw.Query != nil && boolOr(rw.Query.KeepQuery, false) {
			q = req.URL.RawQuery
		}
		if rw.Query != nil && str(rw.Query.AddString) != "" {
			if q != "" {
				q += "&"
			}
			q += str(rw.Query.AddString)
		}
		out.URL.RawQuery = q
	}
	out.RequestURI = ""
	return out
}

func (r *httpRule) matches(req *http.Request, port int, secure bool, client netip.Addr) bool {
	if r.never {
		return false
	}
	if r.host != nil && !r.host.match(req.Host, req.Host != "") {
		return false
	}
	if r.path != nil && !r.path.match(req.URL.Path, true) {
		return false
	}
	for _, h := range r.hdrs {
		vals := req.Header.Values(h.name)
		if !h.m.match(strings.Join(vals, ","), len(vals) > 0) {
			return false
		}
	}
	if r.hasPort && slices.Contains(r.ports, port) == r.portNot {
		return false
	}
	if len(r.methods) > 0 && slices.Contains(r.methods, req.Method) == r.methodNot {
		return false
	}
	if r.proto != "" {
		p := "HTTP"
		if secure {
			p = "HTTPS"
		}
		if (p == r.proto) == r.protoNot {
			return false
		}
	}
	if r.client != nil && !r.client.match(client) {
		return false
	}
	return true
}

// ServeHTTP serves a request on an HTTP or HTTPS listener.
func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	spec := l.cur.Load()
	vs := spec.vs
	secure := r.TLS != nil
	if secure && vs.typ == vsTypeParent {
		if c := vs.child(r.TLS.ServerName); c != nil {
			vs = c
		}
	}
	vs.stats.reqs.Add(1)
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &countReader{ReadCloser: r.Body, c: vs.stats}
	}
	w = &countResponse{ResponseWriter: w, c: vs.stats}
	client := remoteIP(addrOf(r.RemoteAddr))
	port := spec.key.port

	// The first enabled rule that matches and carries a redirect, a
	// switching or a local-response action decides.
	var tgt *target
	decided := false
	fwd := r
	for _, rule := range vs.httpRules {
		if !rule.matches(r, port, secure, client) {
			continue
		}
		switch {
		case rule.redirect != nil:
			redirect(w, r, rule.redirect)
			return
		case rule.local != nil:
			localResponse(w, rule.local)
			return
		case rule.switched:
			// The routing rule's header and URL actions change what the
			// backend sees; those of rules that only matched are not applied.
			tgt, decided, fwd = rule.tgt, true, rule.rewriteRequest(r)
		}
		if decided {
			break
		}
	}
	// The first response rule matching the request as the client sent it
	// changes the answer's headers.
	var rspActs []*models.HTTPHdrAction
	for _, rule := range vs.rspRules {
		if rule.matches(r, port, secure, client) {
			rspActs = rule.hdrActs
			break
		}
	}
	if !decided {
		if t, ok := spec.spTarget(vs); ok {
			tgt = t
		} else {
			tgt = vs.def
		}
	}
	_, srv, fail := tgt.pick(flow{client: client, port: clientPort(r.RemoteAddr), req: r}, port)
	if srv == nil {
		vs.stats.fails.Add(1)
		failAction(w, r, fail)
		return
	}
	pool := poolOf(tgt, srv)
	st := srv.st
	st.reqs.Add(1)
	st.active.Add(1)
	defer st.active.Add(-1)
	pt := &proxyTarget{addr: srv.addr(port), client: client, st: st, vs: vs, rspActs: rspActs}
	if pool != nil && pool.tls {
		pt.tls = true
		if pool.sniEnabled {
			pt.sni = cmp.Or(pool.sni, hostOnly(r.Host))
		}
	}
	l.d.reverseProxy().ServeHTTP(w, fwd.WithContext(context.WithValue(fwd.Context(), proxyKey{}, pt)))
}

func addrOf(s string) net.Addr {
	a, _ := net.ResolveTCPAddr("tcp", s)
	if a == nil {
		return &net.TCPAddr{}
	}
	return a
}

// clientPort is the port of a request's remote address (0 when unknown).
func clientPort(remote string) uint16 {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return 0
	}
	return ap.Port()
}

// poolOf finds the pool a picked server belongs to.
func poolOf(t *target, s *serverConf) *poolConf {
	if t.pool != nil {
		return t.pool
	}
	for _, m := range t.group.members {
		if slices.Contains(m.pool.servers, s) {
			return m.pool
		}
	}
	return nil
}

func hostOnly(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return h
}

var redirectCodes = map[string]int{
	"HTTP_REDIRECT_STATUS_CODE_301": http.StatusMovedPermanently,
	"HTTP_REDIRECT_STATUS_CODE_302": http.StatusFound,
	"HTTP_REDIRECT_STATUS_CODE_307": http.StatusTemporaryRedirect,
}

// redirect answers with the rule's redirect: protocol, host and path from
// the rule or the request, the port unless it is the protocol's default,
// and the query unless keep_query is false.
func redirect(w http.ResponseWriter, r *http.Request, a *models.HTTPRedirectAction) {
	proto := strings.ToLower(cmp.Or(str(a.Protocol), "HTTP"))
	host := hostOnly(r.Host)
	if a.Host != nil {
		host = tokens(a.Host, r, ".")
	}
	if a.Port != nil {
		p := int(*a.Port)
		if !(proto == "http" && p == 80 || proto == "https" && p == 443) {
			host = net.JoinHostPort(host, strconv.Itoa(p))
		}
	}
	path := r.URL.EscapedPath()
	if a.Path != nil {
		path = "/" + strings.TrimPrefix(tokens(a.Path, r, "/"), "/")
	}
	q := ""
	if boolOr(a.KeepQuery, true) {
		q = r.URL.RawQuery
	}
	if add := str(a.AddString); add != "" {
		if q != "" {
			q += "&"
		}
		q += add
	}
	loc := proto + "://" + host + path
	if q != "" {
		loc += "?" + q
	}
	code := redirectCodes[cmp.Or(str(a.StatusCode), "HTTP_REDIRECT_STATUS_CODE_302")]
	if code == 0 {
		code = http.StatusFound
	}
	w.Header().Set("Location", loc)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(code)
}

// tokens builds a URI part from tokenized parameters: host labels, path
// segments (by index range) and constant strings.
func tokens(p *models.URIParam, r *http.Request, sep string) string {
	labels := strings.Split(hostOnly(r.Host), ".")
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var parts []string
	for _, t := range p.Tokens {
		if t == nil {
			continue
		}
		pick := func(list []string) string {
			lo := intOr(t.StartIndex, 0)
			hi := intOr(t.EndIndex, lo)
			if hi == 65535 || hi >= len(list) {
				hi = len(list) - 1
			}
			if lo > hi || lo >= len(list) {
				return ""
			}
			return strings.Join(list[lo:hi+1], sep)
		}
		switch str(t.Type) {
		case "URI_TOKEN_TYPE_HOST":
			parts = append(parts, pick(labels))
		case "URI_TOKEN_TYPE_PATH":
			parts = append(parts, pick(segs))
		case "URI_TOKEN_TYPE_STRING":
			parts = append(parts, str(t.StrValue))
		}
	}
	return strings.Join(parts, "")
}

var localCodes = map[string]int{
	"HTTP_LOCAL_RESPONSE_STATUS_CODE_200": 200,
	"HTTP_LOCAL_RESPONSE_STATUS_CODE_204": 204,
	"HTTP_LOCAL_RESPONSE_STATUS_CODE_403": 403,
	"HTTP_LOCAL_RESPONSE_STATUS_CODE_404": 404,
	"HTTP_LOCAL_RESPONSE_STATUS_CODE_429": 429,
	"HTTP_LOCAL_RESPONSE_STATUS_CODE_501": 501,
	"FAIL_HTTP_STATUS_CODE_200":           200,
	"FAIL_HTTP_STATUS_CODE_503":           503,
}

func localResponse(w http.ResponseWriter, a *models.HttpswitchingAction) {
	code := localCodes[str(a.StatusCode)]
	if a.OtherStatusCode != nil {
		code = int(*a.OtherStatusCode)
	}
	writeLocal(w, cmp.Or(code, 200), a.File)
}

func writeLocal(w http.ResponseWriter, code int, f *models.HTTPLocalFile) {
	body := fmt.Sprintf("<html><body>%d %s</body></html>\n", code, http.StatusText(code))
	ctype := "text/html"
	if f != nil && f.FileContent != nil {
		body, ctype = *f.FileContent, cmp.Or(str(f.ContentType), ctype)
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}

// failAction answers a request no server can take: the pool's (or pool
// group's) fail action, closing the connection by default.
func failAction(w http.ResponseWriter, r *http.Request, fa *models.FailAction) {
	typ := ""
	if fa != nil {
		typ = str(fa.Type)
	}
	switch typ {
	case "FAIL_ACTION_HTTP_LOCAL_RSP":
		code := 503
		var file *models.HTTPLocalFile
		if fa.LocalRsp != nil {
			code = cmp.Or(localCodes[str(fa.LocalRsp.StatusCode)], 503)
			file = fa.LocalRsp.File
		}
		writeLocal(w, code, file)
	case "FAIL_ACTION_HTTP_REDIRECT":
		rd := fa.Redirect
		if rd == nil {
			rd = &models.FailActionHTTPRedirect{}
		}
		proto := strings.ToLower(cmp.Or(str(rd.Protocol), "HTTPS"))
		loc := proto + "://" + cmp.Or(str(rd.Host), hostOnly(r.Host)) + cmp.Or(str(rd.Path), r.URL.EscapedPath())
		if q := cmp.Or(str(rd.Query), r.URL.RawQuery); q != "" {
			loc += "?" + q
		}
		code := cmp.Or(redirectCodes[str(rd.StatusCode)], http.StatusFound)
		w.Header().Set("Location", loc)
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(code)
	default:
		closeHTTP(w)
	}
}

// closeHTTP ends the client connection without an answer, with a reset.
func closeHTTP(w http.ResponseWriter) {
	c, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	reset(c)
}

type proxyKey struct{}

// proxyTarget is where one request goes, carried in its context.
type proxyTarget struct {
	addr   string
	client netip.Addr
	tls    bool
	sni    string
	st     *serverState
	vs     *vsConf
	// rspActs are the response rule's header actions for the answer.
	rspActs []*models.HTTPHdrAction
}

// reverseProxy forwards requests to the server in their context, adding
// X-Forwarded-For as the controller does by default; the Host header is
// passed on unchanged.
func (d *DataPlane) reverseProxy() *httputil.ReverseProxy {
	d.rpOnce.Do(func() {
		d.rp = &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pt := pr.In.Context().Value(proxyKey{}).(*proxyTarget)
				pr.Out.URL.Scheme = "http"
				if pt.tls {
					pr.Out.URL.Scheme = "https"
				}
				pr.Out.URL.Host = pt.addr
				pr.Out.Host = pr.In.Host
				if pt.client.IsValid() {
					pr.Out.Header.Set("X-Forwarded-For", pt.client.String())
				}
			},
			Transport: roundTripper{d},
			ErrorLog:  discardLog,
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, _ error) {
				pt := r.Context().Value(proxyKey{}).(*proxyTarget)
				pt.st.fails.Add(1)
				pt.vs.stats.fails.Add(1)
				w.WriteHeader(http.StatusBadGateway)
			},
			ModifyResponse: func(resp *http.Response) error {
				pt := resp.Request.Context().Value(proxyKey{}).(*proxyTarget)
				resp.Body = &countReader{ReadCloser: resp.Body, c: &pt.st.counters, out: true}
				applyHdrActs(pt.rspActs, resp.Header, nil)
				return nil
			},
		}
	})
	return d.rp
}

type roundTripper struct{ d *DataPlane }

func (rt roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	pt := r.Context().Value(proxyKey{}).(*proxyTarget)
	pt.st.conns.Add(1)
	if pt.tls {
		return rt.d.proxyTLS.RoundTrip(r.WithContext(context.WithValue(r.Context(), sniKey{}, pt.sni)))
	}
	return rt.d.proxy.RoundTrip(r)
}

type sniKey struct{}

func newTransports() (plain, re *http.Transport) {
	dialer := &net.Dialer{Timeout: dialTimeout}
	plain = &http.Transport{
		DialContext:           dialer.DialContext,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: time.Minute,
		DisableCompression:    true,
	}
	// Re-encryption: the server name varies per request, so connections
	// are not reused across requests.
	re = &http.Transport{
		DisableKeepAlives:     true,
		DisableCompression:    true,
		ResponseHeaderTimeout: time.Minute,
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			sni, _ := ctx.Value(sniKey{}).(string)
			// The Service Engine does not verify servers unless the pool
			// names a PKI profile.
			tc := tls.Client(c, &tls.Config{ServerName: sni, InsecureSkipVerify: true}) //nolint:gosec // as the SE does
			if err := tc.HandshakeContext(ctx); err != nil {
				_ = c.Close()
				return nil, err
			}
			return tc, nil
		},
	}
	return plain, re
}

// countReader counts bytes read as bytes in, or out when out is set.
type countReader struct {
	io.ReadCloser
	c   *counters
	out bool
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	if c.out {
		c.c.bytesOut.Add(int64(n))
	} else {
		c.c.bytesIn.Add(int64(n))
	}
	return n, err
}

// countResponse counts the bytes of an answer as the virtual service's
// bytes out.
type countResponse struct {
	http.ResponseWriter
	c *counters
}

func (c *countResponse) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.c.bytesOut.Add(int64(n))
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and Hijack.
func (c *countResponse) Unwrap() http.ResponseWriter { return c.ResponseWriter }
