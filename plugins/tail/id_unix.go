//go:build unix

package tail

import (
	"io/fs"
	"syscall"
)

// idOf returns the file's device and inode, which stay the same when it is
// renamed: the identity rotation and checkpoints are keyed by.
func idOf(fi fs.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)}, true //nolint:unconvert // types differ by platform
}

// removed reports whether the file has no name left (deleted while open).
func removed(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Nlink == 0
}
