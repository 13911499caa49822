// A SQLite VFS that gathers a writer's WAL writes into few system calls.
//
// SQLite writes each WAL frame as two writes, its 24-byte header and then
// the page, so a commit of 3,000 pages costs 6,000 system calls. This VFS
// wraps the default one. On a WAL file it appends each write that follows
// on from the last to a buffer, and writes the buffer out when the next
// write is elsewhere or would not fit, and before every call that must see
// the file as SQLite wrote it: sync, read, size, truncate, file control,
// fetch, close. The file thus receives the same bytes at the same offsets
// in the same order as without it, in fewer calls.
//
// It is used only with synchronous=FULL or EXTRA, where SQLite syncs the
// WAL at every commit before it publishes the commit in the wal-index, so
// a committed frame is in the file (and on disk) before any other
// connection can look for it, and nothing stays buffered past a commit.
// Its connection also never spills pages to the WAL before a commit
// (cache_spill=OFF), so the buffer never holds frames of a transaction
// that was rolled back, which a later flush would write over frames that
// another process had committed meanwhile.
// Other files (the database, its shared memory) are the default VFS's own.

#include <stdlib.h>
#include <string.h>
#include "walbuf.h"

// The default VFS writes at most 128 KiB - 1 bytes in one call.
#define WALBUF_SIZE 0x1ffff

typedef struct walbufFile {
	sqlite3_file base;   // pMethods: &walbufMethods
	sqlite3_file *real;  // the default VFS's file, just after this struct
	char *buf;           // pending bytes, written at off
	int len;
	sqlite3_int64 off;
} walbufFile;

static sqlite3_vfs walbufVFS;
static sqlite3_vfs *defaultVFS;
static sqlite3_io_methods walbufMethods;

static int walbufFlush(walbufFile *f) {
	if (f->len == 0) return SQLITE_OK;
	int rc = f->real->pMethods->xWrite(f->real, f->buf, f->len, f->off);
	f->len = 0;
	return rc;
}

static int walbufClose(sqlite3_file *p) {
	walbufFile *f = (walbufFile *)p;
	int rc = walbufFlush(f);
	int rc2 = f->real->pMethods->xClose(f->real);
	free(f->buf);
	f->buf = 0;
	return rc != SQLITE_OK ? rc : rc2;
}

static int walbufRead(sqlite3_file *p, void *b, int n, sqlite3_int64 off) {
	walbufFile *f = (walbufFile *)p;
	int rc = walbufFlush(f);
	if (rc != SQLITE_OK) return rc;
	return f->real->pMethods->xRead(f->real, b, n, off);
}

static int walbufWrite(sqlite3_file *p, const void *b, int n, sqlite3_int64 off) {
	walbufFile *f = (walbufFile *)p;
	if (f->len > 0 && (off != f->off + f->len || f->len + n > WALBUF_SIZE)) {
		int rc = walbufFlush(f);
		if (rc != SQLITE_OK) return rc;
	}
	if (n > WALBUF_SIZE) return f->real->pMethods->xWrite(f->real, b, n, off);
	if (f->buf == 0) {
		f->buf = malloc(WALBUF_SIZE);
		if (f->buf == 0) return f->real->pMethods->xWrite(f->real, b, n, off);
	}
	if (f->len == 0) f->off = off;
	memcpy(f->buf + f->len, b, n);
	f->len += n;
	return SQLITE_OK;
}

static int walbufTruncate(sqlite3_file *p, sqlite3_int64 size) {
	walbufFile *f = (walbufFile *)p;
	int rc = walbufFlush(f);
	if (rc != SQLITE_OK) return rc;
	return f->real->pMethods->xTruncate(f->real, size);
}

static int walbufSync(sqlite3_file *p, int flags) {
	walbufFile *f = (walbufFile *)p;
	int rc = walbufFlush(f);
	if (rc != SQLITE_OK) return rc;
	return f->real->pMethods->xSync(f->real, flags);
}

static int walbufFileSize(sqlite3_file *p, sqlite3_int64 *size) {
	walbufFile *f = (walbufFile *)p;
	int rc = walbufFlush(f);
	if (rc != SQLITE_OK) return rc;
	return f->real->pMethods->xFileSize(f->real, size);
}

static int walbufLock(sqlite3_file *p, int l) {
	walbufFile *f = (walbufFile *)p;
	return f->real->pMethods->xLock(f->real, l);
}

static int walbufUnlock(sqlite3_file *p, int l) {
	walbufFile *f = (walbufFile *)p;
	return f->real->pMethods->xUnlock(f->real, l);
}

static int walbufCheckReservedLock(sqlite3_file *p, int *out) {
	walbufFile *f = (walbufFile *)p;
	return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int walbufFileControl(sqlite3_file *p, int op, void *arg) {
	walbufFile *f = (walbufFile *)p;
	int rc = walbufFlush(f);
	if (rc != SQLITE_OK) return rc;
	return f->real->pMethods->xFileControl(f->real, op, arg);
}

static int walbufSectorSize(sqlite3_file *p) {
	walbufFile *f = (walbufFile *)p;
	return f->real->pMethods->xSectorSize(f->real);
}

static int walbufDeviceCharacteristics(sqlite3_file *p) {
	walbufFile *f = (walbufFile *)p;
	return f->real->pMethods->xDeviceCharacteristics(f->real);
}

// A WAL file has no shared memory or memory-mapped pages of its own (the
// database file holds the wal-index), but the methods are forwarded for
// completeness.
static int walbufShmMap(sqlite3_file *p, int pg, int sz, int extend, void volatile **pp) {
	walbufFile *f = (walbufFile *)p;
	if (f->real->pMethods->iVersion < 2) return SQLITE_IOERR;
	return f->real->pMethods->xShmMap(f->real, pg, sz, extend, pp);
}

static int walbufShmLock(sqlite3_file *p, int off, int n, int flags) {
	walbufFile *f = (walbufFile *)p;
	if (f->real->pMethods->iVersion < 2) return SQLITE_IOERR;
	return f->real->pMethods->xShmLock(f->real, off, n, flags);
}

static void walbufShmBarrier(sqlite3_file *p) {
	walbufFile *f = (walbufFile *)p;
	if (f->real->pMethods->iVersion < 2) return;
	f->real->pMethods->xShmBarrier(f->real);
}

static int walbufShmUnmap(sqlite3_file *p, int del) {
	walbufFile *f = (walbufFile *)p;
	if (f->real->pMethods->iVersion < 2) return SQLITE_OK;
	return f->real->pMethods->xShmUnmap(f->real, del);
}

static int walbufFetch(sqlite3_file *p, sqlite3_int64 off, int n, void **pp) {
	walbufFile *f = (walbufFile *)p;
	int rc = walbufFlush(f);
	if (rc != SQLITE_OK) return rc;
	if (f->real->pMethods->iVersion < 3) {
		*pp = 0;
		return SQLITE_OK;
	}
	return f->real->pMethods->xFetch(f->real, off, n, pp);
}

static int walbufUnfetch(sqlite3_file *p, sqlite3_int64 off, void *pp) {
	walbufFile *f = (walbufFile *)p;
	if (f->real->pMethods->iVersion < 3) return SQLITE_OK;
	return f->real->pMethods->xUnfetch(f->real, off, pp);
}

static int walbufOpen(sqlite3_vfs *vfs, const char *name, sqlite3_file *p, int flags, int *outFlags) {
	if ((flags & SQLITE_OPEN_WAL) == 0) {
		// Other files are the default VFS's own, in the same memory.
		return defaultVFS->xOpen(defaultVFS, name, p, flags, outFlags);
	}
	walbufFile *f = (walbufFile *)p;
	memset(f, 0, sizeof(*f));
	f->real = (sqlite3_file *)(f + 1);
	int rc = defaultVFS->xOpen(defaultVFS, name, f->real, flags, outFlags);
	if (rc != SQLITE_OK) {
		// SQLite calls xClose only if pMethods is set: leave it unset, and
		// close the real file if it was opened.
		if (f->real->pMethods) f->real->pMethods->xClose(f->real);
		f->base.pMethods = 0;
		return rc;
	}
	f->base.pMethods = &walbufMethods;
	return SQLITE_OK;
}

int sc_walbuf_register(void) {
	if (defaultVFS) return SQLITE_OK;
	sqlite3_vfs *d = sqlite3_vfs_find(0);
	if (d == 0) return SQLITE_ERROR;
	defaultVFS = d;
	walbufVFS = *d;
	walbufVFS.pNext = 0;
	walbufVFS.zName = WALBUF_VFS_NAME;
	walbufVFS.szOsFile = (int)sizeof(walbufFile) + d->szOsFile;
	walbufVFS.xOpen = walbufOpen;
	walbufMethods = (sqlite3_io_methods){
		3,
		walbufClose, walbufRead, walbufWrite, walbufTruncate, walbufSync, walbufFileSize,
		walbufLock, walbufUnlock, walbufCheckReservedLock, walbufFileControl,
		walbufSectorSize, walbufDeviceCharacteristics,
		walbufShmMap, walbufShmLock, walbufShmBarrier, walbufShmUnmap,
		walbufFetch, walbufUnfetch,
	};
	return sqlite3_vfs_register(&walbufVFS, 0);
}
