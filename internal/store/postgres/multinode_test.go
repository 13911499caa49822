package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sharedcare/internal/server"
	"sharedcare/internal/store"
	"sharedcare/internal/store/storetest"
)

// TestTwoNodes hammers one database through two DBs (two pools, as two
// sharedcare processes would have) and checks that they act as one store.
func TestTwoNodes(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	nodes := []*DB{openURL(t, url, Options{MaxConns: 6}), openURL(t, url, Options{MaxConns: 6})}
	ctx := context.Background()

	t.Run("creates", func(t *testing.T) {
		const perWorker = 40
		var mu sync.Mutex // guards seqs
		seqs := map[int64]string{}
		var wg sync.WaitGroup
		for n, db := range nodes {
			other := nodes[1-n]
			for w := range 4 {
				wg.Go(func() {
					for i := range perWorker {
						id := fmt.Sprintf("n%d-w%d-%d", n, w, i)
						res, err := put(ctx, db, &store.Write{Type: "Patient", ID: id, Resource: patient(t, id), CreateOnly: true})
						if err != nil {
							t.Errorf("create %s: %v", id, err)
							return
						}
						// Acknowledged on one node: the other sees it at once.
						if v, err := other.Read(ctx, "Patient", id); err != nil || v.Seq != res.Version.Seq {
							t.Errorf("Read %s on the other node = %v, %v; want seq %d", id, v, err, res.Version.Seq)
						}
						mu.Lock()
						if prev, dup := seqs[res.Version.Seq]; dup {
							t.Errorf("seq %d given to %s and %s", res.Version.Seq, prev, id)
						}
						seqs[res.Version.Seq] = id
						mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		if len(seqs) != 2*4*perWorker {
			t.Errorf("%d distinct seqs, want %d", len(seqs), 2*4*perWorker)
		}
	})

	t.Run("if-match", func(t *testing.T) {
		ids := []string{"r0", "r1", "r2"}
		for _, id := range ids {
			mustPut(t, nodes[0], &store.Write{Type: "Patient", ID: id, Resource: patient(t, "v1")})
		}
		const attempts = 25
		var mu sync.Mutex // guards won
		won := map[string][]int64{}
		var wg sync.WaitGroup
		for n, db := range nodes {
			other := nodes[1-n]
			for w := range 3 {
				wg.Go(func() {
					for i := range attempts {
						id := ids[(w+i)%len(ids)]
						cur, err := db.Read(ctx, "Patient", id)
						if err != nil {
							t.Errorf("Read %s: %v", id, err)
							return
						}
						res, err := put(ctx, db, &store.Write{Type: "Patient", ID: id, Resource: patient(t, fmt.Sprint(n, w, i)), IfMatch: cur.VersionID})
						switch status(err) {
						case http.StatusPreconditionFailed:
							continue // another writer, on either node, got there first
						case 0:
							if err != nil {
								t.Errorf("Put %s If-Match %d: %v", id, cur.VersionID, err)
								return
							}
						default:
							t.Errorf("Put %s If-Match %d: %v, want success or 412", id, cur.VersionID, err)
							return
						}
						if res.Version.VersionID != cur.VersionID+1 {
							t.Errorf("Put %s If-Match %d made version %d", id, cur.VersionID, res.Version.VersionID)
						}
						if v, err := other.Read(ctx, "Patient", id); err != nil || v.VersionID < res.Version.VersionID {
							t.Errorf("Read %s on the other node after version %d was acknowledged = %v, %v", id, res.Version.VersionID, v, err)
						}
						mu.Lock()
						won[id] = append(won[id], res.Version.VersionID)
						mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		for _, id := range ids {
			got := won[id]
			slices.Sort(got)
			for i, v := range got {
				if v != int64(i+2) {
					t.Errorf("%s: winning versions %v, want each of 2..%d exactly once", id, got, len(got)+1)
					break
				}
			}
			if cur, err := nodes[1].Read(ctx, "Patient", id); err != nil || cur.VersionID != int64(len(got)+1) {
				t.Errorf("%s: current = %v, %v; want version %d", id, cur, err, len(got)+1)
			}
		}
	})

	t.Run("same client id", func(t *testing.T) {
		for i := range 10 {
			id := fmt.Sprint("same", i)
			var results [2]*store.Result
			var errs [2]error
			var wg sync.WaitGroup
			start := make(chan struct{})
			for n, db := range nodes {
				wg.Go(func() {
					<-start
					results[n], errs[n] = put(ctx, db, &store.Write{Type: "Patient", ID: id, Resource: patient(t, fmt.Sprint(n))})
				})
			}
			close(start)
			wg.Wait()
			if errs[0] != nil || errs[1] != nil {
				t.Fatalf("PUT %s from both nodes: %v, %v", id, errs[0], errs[1])
			}
			vs := []int64{results[0].Version.VersionID, results[1].Version.VersionID}
			slices.Sort(vs)
			if vs[0] != 1 || vs[1] != 2 || results[0].Created == results[1].Created {
				t.Errorf("PUT %s from both nodes: versions %v, created %v %v; want 1 and 2, one created", id, vs, results[0].Created, results[1].Created)
			}

			id = fmt.Sprint("once", i)
			start = make(chan struct{})
			for n, db := range nodes {
				wg.Go(func() {
					<-start
					_, errs[n] = put(ctx, db, &store.Write{Type: "Patient", ID: id, Resource: patient(t, fmt.Sprint(n)), CreateOnly: true})
				})
			}
			close(start)
			wg.Wait()
			codes := []int{status(errs[0]), status(errs[1])}
			slices.Sort(codes)
			if codes[0] != 0 || codes[1] != http.StatusConflict || (errs[0] != nil && errs[1] != nil) {
				t.Errorf("create-only %s from both nodes: %v, %v; want one success and one 409", id, errs[0], errs[1])
			}
		}
	})

	t.Run("audit chain", func(t *testing.T) {
		var wg sync.WaitGroup
		for n, db := range nodes {
			for w := range 4 {
				wg.Go(func() {
					for i := range 25 {
						id := fmt.Sprintf("ev-%d-%d-%d", n, w, i)
						ev := &store.AuditRecord{ID: id, Recorded: time.Now(), Patients: []string{"p"}, Body: []byte(`{"resourceType":"AuditEvent","id":"` + id + `"}`)}
						if err := db.AppendAudit(ctx, []*store.AuditRecord{ev}); err != nil {
							t.Errorf("AppendAudit on node %d: %v", n, err)
							return
						}
					}
				})
			}
		}
		wg.Wait()
		var prev []byte
		count := 0
		err := nodes[0].ScanAudit(ctx, func(e *store.AuditRecord) error {
			count++
			if e.Seq != int64(count) || string(e.Prev) != string(prev) || string(e.Hash) != string(store.AuditHash(prev, e.Body)) {
				return fmt.Errorf("event %d (%s) is not linked to the one before", e.Seq, e.ID)
			}
			prev = e.Hash
			return nil
		})
		if err != nil || count != 2*4*25 {
			t.Errorf("ScanAudit: %d events, %v; want %d in one chain", count, err, 2*4*25)
		}
	})

	if err := nodes[1].Check(ctx); err != nil {
		t.Errorf("Check: %v", err)
	}
}

// TestTwoServers runs two whole sharedcare servers on one database and talks
// to them as a client behind a load balancer would.
func TestTwoServers(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	var srv [2]*httptest.Server
	for i := range srv {
		srv[i] = httptest.NewServer(server.New(server.Options{Store: openURL(t, url, Options{}), InsecureNoAuth: true}))
		t.Cleanup(srv[i].Close)
	}
	a, b := srv[0], srv[1]
	do := func(s *httptest.Server, method, path, body string, headers ...string) (int, http.Header, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/fhir+json")
		}
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var m map[string]any
		json.Unmarshal(raw, &m)
		return resp.StatusCode, resp.Header, m
	}

	st, _, created := do(a, "POST", "/fhir/Patient", `{"resourceType":"Patient","name":[{"family":"Node"}]}`)
	if st != http.StatusCreated {
		t.Fatalf("POST on A = %d, want 201", st)
	}
	id := created["id"].(string)
	if st, _, got := do(b, "GET", "/fhir/Patient/"+id, ""); st != http.StatusOK || got["id"] != id {
		t.Fatalf("GET on B of what A created = %d %v, want 200", st, got["id"])
	}

	// If-Match version 1 on both at once: one wins, one gets 412.
	body := `{"resourceType":"Patient","id":"` + id + `","name":[{"family":"Both"}]}`
	var codes [2]int
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, s := range srv {
		wg.Go(func() {
			<-start
			codes[i], _, _ = do(s, "PUT", "/fhir/Patient/"+id, body, "If-Match", `W/"1"`)
		})
	}
	close(start)
	wg.Wait()
	got := codes[:]
	slices.Sort(got)
	if got[0] != http.StatusOK || got[1] != http.StatusPreconditionFailed {
		t.Errorf("PUT If-Match W/\"1\" on A and B at once = %v, want one 200 and one 412", codes)
	}

	if st, _, _ := do(b, "DELETE", "/fhir/Patient/"+id, ""); st != http.StatusOK && st != http.StatusNoContent {
		t.Errorf("DELETE on B = %d", st)
	}
	if st, h, _ := do(a, "GET", "/fhir/Patient/"+id, ""); st != http.StatusGone || h.Get("ETag") != `W/"3"` {
		t.Errorf("GET on A after DELETE on B = %d ETag %s, want 410 W/\"3\"", st, h.Get("ETag"))
	}
	if st, _, hist := do(a, "GET", "/fhir/Patient/"+id+"/_history", ""); st != http.StatusOK || len(hist["entry"].([]any)) != 3 {
		t.Errorf("history on A = %d with %v entries, want 200 with 3", st, hist["entry"])
	}

	// A search begun on A pages on through B: the snapshot is in the database.
	for i := range 5 {
		if st, _, _ := do(b, "POST", "/fhir/Patient", fmt.Sprintf(`{"resourceType":"Patient","name":[{"family":"Paged%d"}]}`, i)); st != http.StatusCreated {
			t.Fatalf("POST on B = %d, want 201", st)
		}
	}
	next := "/fhir/Patient?family=paged&_count=2"
	seen := map[string]bool{}
	for page := 0; next != ""; page++ {
		s := srv[page%2]
		st, _, bundle := do(s, "GET", next, "")
		if st != http.StatusOK {
			t.Fatalf("GET %s on node %d = %d", next, page%2, st)
		}
		entries, _ := bundle["entry"].([]any)
		for _, e := range entries {
			seen[e.(map[string]any)["resource"].(map[string]any)["id"].(string)] = true
		}
		next = ""
		for _, l := range bundle["link"].([]any) {
			if l := l.(map[string]any); l["relation"] == "next" {
				next = strings.TrimPrefix(l["url"].(string), s.URL)
			}
		}
	}
	if len(seen) != 5 {
		t.Errorf("paging a search across both nodes found %d patients, want 5", len(seen))
	}
}

// TestLockAcrossNodes is a conditional create on two nodes at once: the
// second node's transaction waits in Lock until the first has created the
// resource and committed, then finds it instead of creating another.
func TestLockAcrossNodes(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	a, b := openURL(t, url, Options{}), openURL(t, url, Options{})
	watch := admin(t, url)
	ctx := context.Background()
	const key = "Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009"
	holding, release := make(chan struct{}), make(chan struct{})
	errA := make(chan error, 1)
	go func() {
		first := true
		errA <- a.Tx(ctx, func(tx store.Tx) error {
			if err := tx.Lock(ctx, key); err != nil {
				return err
			}
			if _, err := tx.Read(ctx, "Patient", "cond"); err == nil {
				return fmt.Errorf("node A found the patient before creating it")
			}
			if first {
				first = false
				close(holding)
				<-release
			}
			_, err := tx.Put(ctx, &store.Write{Type: "Patient", ID: "cond", Resource: patient(t, "A"), CreateOnly: true})
			return err
		})
	}()
	<-holding
	errB := make(chan error, 1)
	go func() {
		errB <- b.Tx(ctx, func(tx store.Tx) error {
			if err := tx.Lock(ctx, key); err != nil {
				return err
			}
			if _, err := tx.Read(ctx, "Patient", "cond"); err != nil {
				return fmt.Errorf("node B after the lock: %v, want node A's patient", err)
			}
			return nil
		})
	}()
	// Node A commits only once node B is seen waiting for the lock.
	waited := false
	for deadline := time.Now().Add(30 * time.Second); !waited && time.Now().Before(deadline); {
		var n int
		if err := watch.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'`).Scan(&n); err != nil {
			t.Error(err)
			break
		}
		waited = n > 0
	}
	close(release)
	if !waited {
		t.Error("node B was not seen waiting for the lock node A holds")
	}
	if err := <-errA; err != nil {
		t.Errorf("node A: %v", err)
	}
	if err := <-errB; err != nil {
		t.Errorf("node B: %v", err)
	}
}
