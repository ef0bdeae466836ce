//go:build unix

package app

import (
	"os"
	"path/filepath"
	"syscall"
)

// lockDir holds an exclusive lock on dir/.lock until the returned function
// is called. The lock file is opened without go test noting it
// (openUnlogged): it is new in a fresh clone, and a file read seconds after
// it was written makes go test refuse to cache the package's result.
func lockDir(dir string) (func(), error) {
	f, err := openUnlogged(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// openUnlogged opens a file as os.OpenFile does, but through the system call,
// which go test's input log (the files a test read, for its result cache)
// does not see.
func openUnlogged(path string, flag int) (*os.File, error) {
	fd, err := syscall.Open(path, flag|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}
