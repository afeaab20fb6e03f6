//go:build !unix

package tail

import (
	"hash/fnv"
	"io/fs"
)

// idOf has no inode to read on this platform: it identifies a file by its
// name, size-independent, so rename rotation is seen as a new file.
func idOf(fi fs.FileInfo) (fileID, bool) {
	h := fnv.New64a()
	h.Write([]byte(fi.Name()))
	return fileID{Ino: h.Sum64()}, true
}

func removed(fs.FileInfo) bool { return false }
