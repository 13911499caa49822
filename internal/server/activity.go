package server

import (
	"net/http"
	"sync/atomic"
)

// activity counts the interactive requests in flight, so that paced bulk
// jobs can stand aside while any is served (bulk.Options.Busy): an export
// then works in the gaps between reads instead of beside them. Health
// checks, metrics and downloads of bulk output are not counted: a slow
// client fetching a large export file would otherwise hold jobs back for
// as long.
type activity struct{ n atomic.Int64 }

func (a *activity) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/readyz", "/metrics", "/fhir/$bulk-file":
			next.ServeHTTP(w, r)
			return
		}
		a.n.Add(1)
		defer a.n.Add(-1)
		next.ServeHTTP(w, r)
	})
}

// busy reports whether an interactive request is being served.
func (a *activity) busy() bool { return a.n.Load() > 0 }
