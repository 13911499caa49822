package sqlite

import (
	"fmt"
	"strings"
	"testing"

	"sharedcare/internal/store"
)

func cacheVersion(id string, version int64, bodyBytes int) *store.Version {
	return &store.Version{Type: "Patient", ID: id, VersionID: version, Body: []byte(strings.Repeat("x", bodyBytes)), Patients: []string{id}}
}

// TestReadCacheRefusesStaleFill: a read that started before a write was
// invalidated must not put back the version the write replaced.
func TestReadCacheRefusesStaleFill(t *testing.T) {
	c := newReadCache(1 << 20)
	_, epoch, ok := c.get("Patient", "a")
	if ok {
		t.Fatal("empty cache hit")
	}
	c.invalidate("Patient", "a") // a write committed while the read was under way
	c.put(cacheVersion("a", 1, 10), epoch)
	if _, _, ok := c.get("Patient", "a"); ok {
		t.Fatal("a read older than the write filled the cache")
	}
	_, epoch, _ = c.get("Patient", "a")
	c.put(cacheVersion("a", 2, 10), epoch)
	v, _, ok := c.get("Patient", "a")
	if !ok || v.VersionID != 2 {
		t.Fatalf("get = %v, %v; want version 2", v, ok)
	}
	v.VersionID = 99 // a caller's change to its copy
	if v, _, _ := c.get("Patient", "a"); v.VersionID != 2 {
		t.Errorf("a caller's change reached the cache: version %d", v.VersionID)
	}
	c.invalidate("Patient", "a")
	if _, _, ok := c.get("Patient", "a"); ok {
		t.Error("hit after invalidate")
	}
}

// TestReadCacheBounded fills a small cache far past its size: it stays
// within its bytes, and an entry read between fills survives the hand.
func TestReadCacheBounded(t *testing.T) {
	const size = 1 << 20
	c := newReadCache(size)
	put := func(id string) {
		_, epoch, _ := c.get("Patient", id)
		c.put(cacheVersion(id, 1, 1000), epoch)
	}
	put("hot")
	for i := range 20000 {
		put(fmt.Sprint("p", i))
		if _, _, ok := c.get("Patient", "hot"); !ok {
			t.Fatalf("the entry read after every put was evicted after %d puts", i)
		}
	}
	var bytes int64
	entries := 0
	for i := range c.shards {
		s := &c.shards[i]
		bytes += s.bytes
		entries += len(s.m)
		if len(s.clock) > 2*len(s.m)+64 {
			t.Errorf("shard %d: clock of %d for %d entries", i, len(s.clock), len(s.m))
		}
	}
	if bytes > size {
		t.Errorf("cache holds %d bytes, more than its %d", bytes, size)
	}
	if entries < 500 {
		t.Errorf("only %d entries of about 1 KB in 1 MiB", entries)
	}
}

// TestReadCacheClockCompacts: entries replaced and invalidated while the
// cache is far from full do not pile up in the clock.
func TestReadCacheClockCompacts(t *testing.T) {
	c := newReadCache(1 << 30)
	for i := range 100000 {
		id := fmt.Sprint("p", i%10)
		_, epoch, _ := c.get("Patient", id)
		c.put(cacheVersion(id, int64(i), 10), epoch)
		if i%3 == 0 {
			c.invalidate("Patient", id)
		}
	}
	for i := range c.shards {
		if s := &c.shards[i]; len(s.clock) > 2*len(s.m)+64 {
			t.Errorf("shard %d: clock of %d for %d entries", i, len(s.clock), len(s.m))
		}
	}
}

func TestReadCacheTooLarge(t *testing.T) {
	c := newReadCache(64 << 10) // 1 KiB a shard
	_, epoch, _ := c.get("Patient", "big")
	c.put(cacheVersion("big", 1, 4000), epoch)
	if _, _, ok := c.get("Patient", "big"); ok {
		t.Error("a version larger than a quarter of its shard was cached")
	}
	if newReadCache(0) != nil || newReadCache(-1) != nil {
		t.Error("a cache of no bytes was made")
	}
}
