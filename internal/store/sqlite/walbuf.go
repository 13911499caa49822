package sqlite

// #include "walbuf.h"
import "C"

import (
	"fmt"
	"strings"
	"sync"
)

// walbufVFS names the VFS of walbuf.c, which gathers a connection's WAL
// writes into few system calls.
const walbufVFS = C.WALBUF_VFS_NAME

var registerWalbuf = sync.OnceValue(func() error {
	if rc := C.sc_walbuf_register(); rc != C.SQLITE_OK {
		return fmt.Errorf("sqlite: register the WAL-buffering VFS: code %d", int(rc))
	}
	return nil
})

// gathersWAL reports whether a writer with this synchronous setting may
// gather its WAL writes: only where SQLite syncs the WAL at every commit,
// which is when walbuf.c writes out what it holds. With NORMAL, SQLite
// publishes a commit without a sync, and a committed frame must already be
// in the file for other connections and for a crash of this process.
func gathersWAL(synchronous string) bool {
	switch strings.ToUpper(synchronous) {
	case "FULL", "EXTRA", "2", "3":
		return true
	}
	return false
}
