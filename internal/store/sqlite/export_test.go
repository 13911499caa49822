package sqlite

// SetAuditFault makes the trail's writer fail every batch while f returns
// an error; nil clears it.
func SetAuditFault(db *DB, f func() error) {
	if f == nil {
		db.audit.fault.Store(nil)
		return
	}
	db.audit.fault.Store(&f)
}

// Queued reports how many jobs wait for the writer.
func Queued(db *DB) int { return len(db.jobs) }
