package record

import (
	"context"
	"time"

	"sharedcare/internal/store"
)

// jobKind is the kind of the store's records that hold bulk jobs.
const jobKind = "bulk-job"

// jobClaimKind holds which node last took each job, until its claim lapses.
const jobClaimKind = "bulk-claim"

// ErrNoJob is what Job returns for a job it does not hold (never made,
// deleted or expired).
var ErrNoJob = store.ErrNotFound

// Jobs hold the state of the asynchronous bulk operations ($export,
// $import) in the store's records, so that every node sees them and they
// survive a restart. They are the server's bookkeeping, not any patient's
// record, so these calls are neither access-checked nor audited: the face
// that serves them lets only a job's owner see it, and the reads and
// writes a job does go through Export and Import, which are.

// Job returns a job's state, or ErrNoJob.
func (s *Service) Job(ctx context.Context, id string) ([]byte, error) {
	return s.store.GetRecord(ctx, jobKind, id)
}

// PutJob creates or replaces a job's state; it is durable when PutJob
// returns, and reads as absent after expires (zero: never).
func (s *Service) PutJob(ctx context.Context, id string, state []byte, expires time.Time) error {
	return s.store.PutRecord(ctx, jobKind, id, state, expires)
}

// ClaimJob takes a job for node until expires, unless another node's
// claim on it is unexpired, and reports whether it did: of nodes claiming
// at once, on one database, exactly one does.
func (s *Service) ClaimJob(ctx context.Context, id, node string, expires time.Time) (bool, error) {
	return s.store.PutRecordIfAbsent(ctx, jobClaimKind, id, []byte(node), expires)
}

// DeleteJob forgets a job; forgetting an absent one is no error.
func (s *Service) DeleteJob(ctx context.Context, id string) error {
	return s.store.DeleteRecord(ctx, jobKind, id)
}

// Jobs calls fn with every unexpired job, by id.
func (s *Service) Jobs(ctx context.Context, fn func(id string, state []byte) error) error {
	return s.store.ListRecords(ctx, jobKind, fn)
}
