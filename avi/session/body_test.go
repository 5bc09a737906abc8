package session

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// closeRecorder is a response body that records whether it was closed.
type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestNoContentBodyIsClosed: alb-sdk never closes a 204's body (the answer
// to every DELETE), which kept the HTTP client's timeout timer running for
// the whole timeout after each delete. recordingClient closes it; a body
// alb-sdk reads (a 200's) is left to alb-sdk.
func TestNoContentBodyIsClosed(t *testing.T) {
	for _, tc := range []struct {
		status     int
		wantClosed bool
	}{
		{http.StatusNoContent, true},
		{http.StatusOK, false},
	} {
		body := &closeRecorder{Reader: strings.NewReader("")}
		rc := &recordingClient{hc: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: tc.status, Body: body, Header: http.Header{}, Request: r}, nil
		})}, gate: &loginGate{}}
		req, err := http.NewRequest(http.MethodDelete, "https://controller.example/api/pool/pool-1", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := rc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if body.closed != tc.wantClosed {
			t.Errorf("status %d: body closed %v, want %v", tc.status, body.closed, tc.wantClosed)
		}
		if tc.wantClosed && resp.Body != http.NoBody {
			t.Errorf("status %d: body after Do is %T, want http.NoBody", tc.status, resp.Body)
		}
	}
}
