package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"sharedcare/internal/server"
	"sharedcare/internal/store"
	"sharedcare/internal/store/storetest"
)

// proxy is a TCP proxy between the pool and PostgreSQL that a test can cut:
// the network, not the database, is what fails.
type proxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex // guards mode and conns
	mode  proxyMode
	conns map[net.Conn]struct{} // both ends of every open connection
}

type proxyMode int

const (
	forward   proxyMode = iota
	reset               // connections are closed at once: a refused or reset connection
	blackhole           // connections are accepted and never answered: a partition
)

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		ln.Close()
		p.set(reset)
		p.wg.Wait()
	})
	return p
}

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode := p.mode
		if mode != reset {
			p.conns[c] = struct{}{}
		}
		p.mu.Unlock()
		switch mode {
		case reset:
			c.Close()
		case blackhole:
			// Held open, silent, until the mode changes.
		case forward:
			p.wg.Go(func() { p.pipe(c) })
		}
	}
}

func (p *proxy) pipe(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		p.drop(c)
		return
	}
	p.mu.Lock()
	if p.mode != forward {
		p.mu.Unlock()
		c.Close()
		s.Close()
		return
	}
	p.conns[s] = struct{}{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	wg.Go(func() { io.Copy(s, c); p.drop(s) })
	wg.Go(func() { io.Copy(c, s); p.drop(c) })
	wg.Wait()
	p.drop(c)
	p.drop(s)
}

func (p *proxy) drop(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// set switches mode, closing every open connection: what was in flight is
// lost, as when a network path or a server goes away.
func (p *proxy) set(m proxyMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// via returns u with its host replaced by the proxy's.
func (p *proxy) via(t *testing.T, u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	pu.Host = p.ln.Addr().String()
	return pu.String()
}

// TestOutage cuts the network between a node and PostgreSQL: every
// operation fails fast with a 503 the client can retry, never a hang or a
// 500, and the node recovers by itself when the network returns.
func TestOutage(t *testing.T) {
	t.Parallel()
	direct := storetest.PostgresURL(t)
	p := newProxy(t, "127.0.0.1:5432")
	db := openURL(t, p.via(t, direct), Options{ConnectTimeout: time.Second, AcquireTimeout: 2 * time.Second})
	hs := httptest.NewServer(server.New(server.Options{Store: db, InsecureNoAuth: true}))
	t.Cleanup(hs.Close)
	ctx := context.Background()
	mustPut(t, db, &store.Write{Type: "Patient", ID: "p", Resource: patient(t, "A")})

	wantUnavailable := func(t *testing.T) {
		t.Helper()
		if _, err := db.Read(ctx, "Patient", "p"); status(err) != http.StatusServiceUnavailable {
			t.Errorf("Read = %v, want 503", err)
		}
		if _, err := db.VRead(ctx, "Patient", "p", 1); status(err) != http.StatusServiceUnavailable {
			t.Errorf("VRead = %v, want 503", err)
		}
		if _, err := db.History(ctx, &store.HistoryQuery{}); status(err) != http.StatusServiceUnavailable {
			t.Errorf("History = %v, want 503", err)
		}
		if _, err := put(ctx, db, &store.Write{Type: "Patient", ID: "q", Resource: patient(t, "B")}); status(err) != http.StatusServiceUnavailable {
			t.Errorf("Put = %v, want 503", err)
		}
		if err := db.AppendAudit(ctx, []*store.AuditRecord{{ID: "ev", Recorded: time.Now(), Body: []byte(`{}`)}}); status(err) != http.StatusServiceUnavailable {
			t.Errorf("AppendAudit = %v, want 503", err)
		}
		if _, err := db.GetRecord(ctx, "user", "u"); status(err) != http.StatusServiceUnavailable {
			t.Errorf("GetRecord = %v, want 503", err)
		}
		if err := db.PutRecord(ctx, "user", "u", []byte("x"), time.Time{}); status(err) != http.StatusServiceUnavailable {
			t.Errorf("PutRecord = %v, want 503", err)
		}
		if err := db.Ping(ctx); err == nil {
			t.Errorf("Ping = nil, want an error")
		}
		resp, err := hs.Client().Get(hs.URL + "/fhir/Patient/p")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
			!strings.Contains(string(body), `"OperationOutcome"`) || !strings.Contains(string(body), `"transient"`) {
			t.Errorf("GET during the outage = %d Retry-After %q\n%s\nwant 503, Retry-After and a transient OperationOutcome",
				resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	t.Run("reset", func(t *testing.T) {
		p.set(reset)
		wantUnavailable(t)
	})
	t.Run("blackhole", func(t *testing.T) {
		p.set(blackhole)
		wantUnavailable(t)
	})
	p.set(forward)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := db.Read(ctx, "Patient", "p")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Read still failing 30s after the network returned: %v", err)
		}
	}
	mustPut(t, db, &store.Write{Type: "Patient", ID: "p", Resource: patient(t, "after")})
	if err := db.Check(ctx); err != nil {
		t.Errorf("Check after the outage: %v", err)
	}
}

// terminate ends every session on url's database but the caller's, as an
// operator's pg_terminate_backend or a server restart would, and waits for
// them to end.
func terminate(t *testing.T, url string) {
	t.Helper()
	_, err := admin(t, url).Exec(context.Background(),
		`SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	if err != nil {
		t.Fatal(err)
	}
}

// TestConnectionsKilled ends the pool's sessions under it: reads and whole
// transactions run again on fresh connections, so callers see no error.
func TestConnectionsKilled(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	db := openURL(t, url, Options{})
	ctx := context.Background()
	mustPut(t, db, &store.Write{Type: "Patient", ID: "p", Resource: patient(t, "A")})

	terminate(t, url)
	if _, err := db.Read(ctx, "Patient", "p"); err != nil {
		t.Errorf("Read on a pool whose sessions were killed: %v", err)
	}

	// Killed in the middle of a transaction: nothing of it was committed,
	// so Tx runs fn again, and each write lands once.
	runs := 0
	err := db.Tx(ctx, func(tx store.Tx) error {
		runs++
		if _, err := tx.Put(ctx, &store.Write{Type: "Patient", ID: "t1", Resource: patient(t, "A")}); err != nil {
			return err
		}
		if runs == 1 {
			terminate(t, url)
		}
		_, err := tx.Put(ctx, &store.Write{Type: "Patient", ID: "t2", Resource: patient(t, "B")})
		return err
	})
	if err != nil || runs != 2 {
		t.Fatalf("Tx killed midway = %v after %d runs, want success after 2", err, runs)
	}
	for _, id := range []string{"t1", "t2"} {
		if v, err := db.Read(ctx, "Patient", id); err != nil || v.VersionID != 1 {
			t.Errorf("Read %s = %v, %v; want version 1", id, v, err)
		}
	}
}

// A caller that gives up gets its own context error back, not a 503.
func TestCallerCancelled(t *testing.T) {
	t.Parallel()
	db := openURL(t, storetest.PostgresURL(t), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := db.Read(ctx, "Patient", "p"); !errors.Is(err, context.Canceled) || status(err) != 0 {
		t.Errorf("Read with a cancelled context = %v, want context.Canceled", err)
	}
	if _, err := put(ctx, db, &store.Write{Type: "Patient", ID: "p", Resource: patient(t, "A")}); !errors.Is(err, context.Canceled) || status(err) != 0 {
		t.Errorf("Put with a cancelled context = %v, want context.Canceled", err)
	}
}
