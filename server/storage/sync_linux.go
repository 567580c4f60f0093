package storage

import (
	"os"
	"syscall"
)

// startWriteback asks the kernel to start writing the n bytes at off of f
// to disk without waiting (sync_file_range SYNC_FILE_RANGE_WRITE), so that
// dirty pages do not pile up during a long upload and FinishUpload's fsync
// has only the tail left to flush. Errors are ignored: this is a hint.
func startWriteback(f *os.File, off, n int64) {
	if n <= 0 {
		return
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		const syncFileRangeWrite = 2 // SYNC_FILE_RANGE_WRITE
		_ = syscall.SyncFileRange(int(fd), off, n, syncFileRangeWrite)
	})
}
