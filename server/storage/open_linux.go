package storage

import (
	"io/fs"
	"os"
	"syscall"
)

// openBlob opens the file of a blob for reading with open(2) and
// os.NewFile. os.Open makes six system calls for a regular file (open,
// two fcntl to set non-blocking mode, an epoll_ctl that fails for
// regular files, two fcntl to clear it again); this makes two (open,
// and the fcntl with which NewFile reads the flags). A 64 KiB range read
// served by sendfile(2) makes about a dozen in all, so this is a third
// of them.
func openBlob(path string) (*os.File, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return os.NewFile(uintptr(fd), path), nil
	}
}
