//go:build unix

package traffic

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// size is what is mapped: one page, of which the counters use 16 bytes.
const size = 4096

// create maps a fresh file, unlinked at once so that nothing is left
// behind, in /dev/shm where there is one (memory, never written to disk).
func create() (*counters, *os.File, error) {
	dir := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		dir = "/dev/shm"
	}
	f, err := os.CreateTemp(dir, "sharedcare-traffic-*")
	if err != nil {
		return nil, nil, fmt.Errorf("traffic: %w", err)
	}
	os.Remove(f.Name())
	if err := f.Truncate(size); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("traffic: %w", err)
	}
	c, err := mapFile(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return c, f, nil
}

// mapFile maps f's first page shared. The mapping is page aligned, as the
// 64-bit atomics in it need; it stays for the life of the process.
func mapFile(f *os.File) (*counters, error) {
	mem, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("traffic: map %s: %w", f.Name(), err)
	}
	return (*counters)(unsafe.Pointer(&mem[0])), nil
}
