//go:build !linux

package storage

import "os"

// openBlob opens the file of a blob for reading.
func openBlob(path string) (*os.File, error) { return os.Open(path) }
