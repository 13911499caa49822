package sqlite

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"sharedcare/internal/store"
)

// readCache keeps recently read current versions in memory, so that a read
// by id skips the database: on a warm record that is a third of a read's
// cost (docs/PERFORMANCE.md). It is right only while every write to the
// file goes through this process's writer, which invalidates each key it
// wrote after the commit and before it answers the writer's callers; Open
// holds the data file's lock while a cache is on so that no other process
// can write behind its back.
//
// A read that raced a write must not put back what the write replaced: a
// reader takes its shard's epoch before it reads the database and puts its
// version only if no write to that shard was invalidated in between.
type readCache struct {
	seed     maphash.Seed
	shards   [cacheShards]cacheShard
	perShard int64 // bytes a shard may hold
	hits     atomic.Int64
	misses   atomic.Int64
}

const cacheShards = 64

type cacheKey struct{ typ, id string }

type cacheShard struct {
	mu    sync.Mutex
	m     map[cacheKey]*cacheEntry
	clock []*cacheEntry // entries in insertion order; the hand is clock[0]
	bytes int64
	epoch uint64
}

type cacheEntry struct {
	key     cacheKey
	v       store.Version
	size    int64
	used    bool // read since the hand last passed: spared once
	removed bool // no longer in m; dropped when the hand reaches it
}

// newReadCache returns a cache of about maxBytes, or nil when maxBytes is
// not positive.
func newReadCache(maxBytes int64) *readCache {
	if maxBytes <= 0 {
		return nil
	}
	c := &readCache{seed: maphash.MakeSeed(), perShard: max(maxBytes/cacheShards, 1)}
	for i := range c.shards {
		c.shards[i].m = make(map[cacheKey]*cacheEntry)
	}
	return c
}

func (c *readCache) shard(typ, id string) *cacheShard {
	return &c.shards[maphash.String(c.seed, id)%cacheShards]
}

// get returns a copy of the cached version of typ/id, or, on a miss, the
// epoch to hand to put after reading the database.
func (c *readCache) get(typ, id string) (*store.Version, uint64, bool) {
	s := c.shard(typ, id)
	s.mu.Lock()
	e, ok := s.m[cacheKey{typ, id}]
	if !ok {
		epoch := s.epoch
		s.mu.Unlock()
		c.misses.Add(1)
		return nil, epoch, false
	}
	e.used = true
	v := e.v // callers may set fields of theirs; Body and Patients are shared and read-only
	s.mu.Unlock()
	c.hits.Add(1)
	return &v, 0, true
}

// put caches v, read from the database after get returned epoch, unless a
// write to the shard has been invalidated since.
func (c *readCache) put(v *store.Version, epoch uint64) {
	size := int64(len(v.Body)+len(v.Type)+len(v.ID)+len(v.Source)) + 160
	for _, p := range v.Patients {
		size += int64(len(p)) + 16
	}
	if size > c.perShard/4 {
		return // one large resource would push out many small ones
	}
	s := c.shard(v.Type, v.ID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.epoch != epoch {
		return
	}
	k := cacheKey{v.Type, v.ID}
	if old, ok := s.m[k]; ok {
		old.removed = true
		s.bytes -= old.size
	}
	e := &cacheEntry{key: k, v: *v, size: size}
	s.m[k] = e
	s.clock = append(s.clock, e)
	s.bytes += size
	for s.bytes > c.perShard && len(s.clock) > 0 {
		hand := s.clock[0]
		s.clock[0] = nil
		s.clock = s.clock[1:]
		switch {
		case hand.removed:
		case hand.used:
			hand.used = false
			s.clock = append(s.clock, hand)
		default:
			hand.removed = true
			delete(s.m, hand.key)
			s.bytes -= hand.size
		}
	}
	if len(s.clock) > 2*len(s.m)+64 {
		// Entries replaced or invalidated while the cache is not full
		// would otherwise pile up until the hand came round.
		live := s.clock[:0]
		for _, e := range s.clock {
			if !e.removed {
				live = append(live, e)
			}
		}
		clear(s.clock[len(live):])
		s.clock = live
	}
}

// invalidate forgets typ/id and stops reads already under way from putting
// back what they read.
func (c *readCache) invalidate(typ, id string) {
	s := c.shard(typ, id)
	s.mu.Lock()
	s.epoch++
	k := cacheKey{typ, id}
	if e, ok := s.m[k]; ok {
		e.removed = true
		delete(s.m, k)
		s.bytes -= e.size
	}
	s.mu.Unlock()
}
