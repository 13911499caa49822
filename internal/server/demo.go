package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"

	"sharedcare/internal/fhir"
	"sharedcare/internal/synth"
)

// LoadDemo loads the demo population through the FHIR API, as any client
// would load it: one transaction per Bundle. A database that already holds
// the demo practice is left as it is, so restarting with --demo keeps
// whatever was done to the demo records meanwhile. It returns the
// population, whose people the caller can name to the user.
func (s *Server) LoadDemo(ctx context.Context, until time.Time) (*synth.DemoPopulation, error) {
	demo, err := synth.Demo(until)
	if err != nil {
		return nil, fmt.Errorf("demo population: %w", err)
	}
	if _, err := s.store.Read(ctx, "Organization", demo.Practice.ID); err == nil {
		return demo, nil
	}
	for i, b := range demo.Bundles {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/fhir", bytes.NewReader(fhir.Marshal(b)))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/fhir+json")
		req.Header.Set("Prefer", "return=minimal")
		rec := &bufferedResponse{header: http.Header{}}
		s.handler.ServeHTTP(rec, req)
		if rec.status != http.StatusOK {
			return nil, fmt.Errorf("demo bundle %d of %d: status %d: %.500s", i+1, len(demo.Bundles), rec.status, rec.body.String())
		}
	}
	return demo, nil
}

// bufferedResponse keeps a response written in-process.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }
func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}
func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}
