// Package checkpoint reads and writes the store's checkpoint file: 4 KiB,
// big-endian.
//
//	 0 int64 physicMsgTimestamp      (Java)
//	 8 int64 logicsMsgTimestamp      (Java)
//	16 int64 indexMsgTimestamp       (Java)
//	24 int64 masterFlushedOffset     (Java)
//	32 int64 confirmPhyOffset        (Java)
//	40 int64 logicsSafeOffset        commit-log offset below which the log,
//	                                 the ConsumeQueues and the index are durable
//	48 int64 commitLogFlushedOffset
//	56 uint32 magic 0x47524B31 ("GRK1")
//	60 uint32 crc32 IEEE of bytes 0..59
//
// Java reads and writes only bytes 0..39. A file without our magic (or
// with a bad checksum) still yields Java's fields, with Extended false:
// recovery must then scan the whole log.
//
// The file is rewritten in place with one pwrite of 4 KiB followed by
// fdatasync; a torn write fails the checksum.
package checkpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/gorocket/gorocket/internal/store/vfs"
)

// Size is the file size.
const Size = 4096

const magic = 0x47524B31

// Checkpoint is the decoded file.
type Checkpoint struct {
	PhysicMsgTimestamp  int64
	LogicsMsgTimestamp  int64
	IndexMsgTimestamp   int64
	MasterFlushedOffset int64
	ConfirmPhyOffset    int64

	// Extended is true when the fields below were present and intact.
	Extended               bool
	LogicsSafeOffset       int64
	CommitLogFlushedOffset int64
}

// Decode decodes a checkpoint; b shorter than 40 bytes is an error.
func Decode(b []byte) (Checkpoint, error) {
	var c Checkpoint
	if len(b) < 40 {
		return c, fmt.Errorf("checkpoint: %d bytes, need at least 40", len(b))
	}
	be := binary.BigEndian
	c.PhysicMsgTimestamp = int64(be.Uint64(b))
	c.LogicsMsgTimestamp = int64(be.Uint64(b[8:]))
	c.IndexMsgTimestamp = int64(be.Uint64(b[16:]))
	c.MasterFlushedOffset = int64(be.Uint64(b[24:]))
	c.ConfirmPhyOffset = int64(be.Uint64(b[32:]))
	if len(b) >= 64 && be.Uint32(b[56:]) == magic && be.Uint32(b[60:]) == crc32.ChecksumIEEE(b[:60]) {
		c.Extended = true
		c.LogicsSafeOffset = int64(be.Uint64(b[40:]))
		c.CommitLogFlushedOffset = int64(be.Uint64(b[48:]))
		if c.LogicsSafeOffset < 0 || c.CommitLogFlushedOffset < 0 {
			c.Extended = false
		}
	}
	return c, nil
}

// Encode writes c into b (len(b) >= 64), extension included.
func (c *Checkpoint) Encode(b []byte) {
	be := binary.BigEndian
	be.PutUint64(b, uint64(c.PhysicMsgTimestamp))
	be.PutUint64(b[8:], uint64(c.LogicsMsgTimestamp))
	be.PutUint64(b[16:], uint64(c.IndexMsgTimestamp))
	be.PutUint64(b[24:], uint64(c.MasterFlushedOffset))
	be.PutUint64(b[32:], uint64(c.ConfirmPhyOffset))
	be.PutUint64(b[40:], uint64(c.LogicsSafeOffset))
	be.PutUint64(b[48:], uint64(c.CommitLogFlushedOffset))
	be.PutUint32(b[56:], magic)
	be.PutUint32(b[60:], crc32.ChecksumIEEE(b[:60]))
}

// File is an open checkpoint file.
type File struct {
	f   vfs.File
	buf []byte
}

// Open opens (creating if missing) the checkpoint at path and returns its
// contents. A missing or short file reads as the zero Checkpoint.
func Open(fs vfs.FS, path string) (*File, Checkpoint, error) {
	f, err := fs.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, Checkpoint{}, err
	}
	cf := &File{f: f, buf: make([]byte, Size)}
	n, err := f.ReadAt(cf.buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, Checkpoint{}, err
	}
	var c Checkpoint
	if n >= 40 {
		c, _ = Decode(cf.buf[:n])
	}
	return cf, c, nil
}

// Write stores c durably.
func (cf *File) Write(c Checkpoint) error {
	clear(cf.buf)
	c.Encode(cf.buf)
	if _, err := cf.f.WriteAt(cf.buf, 0); err != nil {
		return err
	}
	return cf.f.Sync()
}

// Close closes the file.
func (cf *File) Close() error { return cf.f.Close() }
