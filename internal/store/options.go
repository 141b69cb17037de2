package store

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gorocket/gorocket/internal/store/consumequeue"
	"github.com/gorocket/gorocket/internal/store/vfs"
)

// Flush disk types (flushDiskType).
const (
	AsyncFlush = "ASYNC_FLUSH"
	SyncFlush  = "SYNC_FLUSH"
)

// Broker roles (brokerRole).
const (
	RoleAsyncMaster = "ASYNC_MASTER"
	RoleSyncMaster  = "SYNC_MASTER"
	RoleSlave       = "SLAVE"
)

// Options configure the store. Fields tagged prop carry the broker.conf
// key of Java's MessageStoreConfig with the same meaning and unit
// (durations in ms, sizes in bytes, ratios in percent, fileReservedTime
// in hours). Fields tagged with keys Java does not have are gorocket
// extensions.
type Options struct {
	StorePathRootDir           string `prop:"storePathRootDir"`
	StorePathCommitLog         string `prop:"storePathCommitLog"` // default {root}/commitlog
	MappedFileSizeCommitLog    int64  `prop:"mappedFileSizeCommitLog"`
	MappedFileSizeConsumeQueue int64  `prop:"mappedFileSizeConsumeQueue"` // rounded up to whole 20-byte units

	FlushDiskType                     string `prop:"flushDiskType"`
	FlushIntervalCommitLog            int    `prop:"flushIntervalCommitLog"`
	FlushCommitLogLeastPages          int    `prop:"flushCommitLogLeastPages"`
	FlushCommitLogThoroughInterval    int    `prop:"flushCommitLogThoroughInterval"`
	FlushIntervalConsumeQueue         int    `prop:"flushIntervalConsumeQueue"`
	FlushConsumeQueueLeastPages       int    `prop:"flushConsumeQueueLeastPages"`
	FlushConsumeQueueThoroughInterval int    `prop:"flushConsumeQueueThoroughInterval"`
	SyncFlushTimeout                  int64  `prop:"syncFlushTimeout"`

	FileReservedTime            int    `prop:"fileReservedTime"` // hours
	DeleteWhen                  string `prop:"deleteWhen"`       // hours of day, ";"-separated
	DiskMaxUsedSpaceRatio       int    `prop:"diskMaxUsedSpaceRatio"`
	DiskSpaceCleanForciblyRatio int    `prop:"diskSpaceCleanForciblyRatio"`
	DiskSpaceWarningLevelRatio  int    `prop:"diskSpaceWarningLevelRatio"`
	CleanResourceInterval       int    `prop:"cleanResourceInterval"`
	CleanFileForciblyEnable     bool   `prop:"cleanFileForciblyEnable"`

	MaxMessageSize     int  `prop:"maxMessageSize"`
	MaxHashSlotNum     int  `prop:"maxHashSlotNum"`
	MaxIndexNum        int  `prop:"maxIndexNum"`
	MessageIndexEnable bool `prop:"messageIndexEnable"`
	CheckCRCOnRecover  bool `prop:"checkCRCOnRecover"`
	// AutoMessageVersionOnTopicLen stores topics longer than 127 bytes as
	// V2 records. Off by default: the official Go client cannot read V2.
	AutoMessageVersionOnTopicLen bool `prop:"autoMessageVersionOnTopicLen"`
	WarmMapedFileEnable          bool `prop:"warmMapedFileEnable"` // Java's spelling

	AccessMessageInMemoryMaxRatio     int `prop:"accessMessageInMemoryMaxRatio"`
	MaxTransferBytesOnMessageInMemory int `prop:"maxTransferBytesOnMessageInMemory"`
	MaxTransferCountOnMessageInMemory int `prop:"maxTransferCountOnMessageInMemory"`
	MaxTransferBytesOnMessageInDisk   int `prop:"maxTransferBytesOnMessageInDisk"`
	MaxTransferCountOnMessageInDisk   int `prop:"maxTransferCountOnMessageInDisk"`

	MessageDelayLevel  string `prop:"messageDelayLevel"`
	BrokerRole         string `prop:"brokerRole"`
	OffsetCheckInSlave bool   `prop:"offsetCheckInSlave"`

	// CommitLogWriteBufferSize is the size of each of the commit log's
	// two write buffers (gorocket extension).
	CommitLogWriteBufferSize int `prop:"commitLogWriteBufferSize"`
	// GroupCommitLingerMicros bounds how long the SYNC_FLUSH group commit
	// waits for just-acknowledged writers to append again before the next
	// sync (0: 50 µs, negative: never; gorocket extension).
	GroupCommitLingerMicros int `prop:"groupCommitLingerMicros"`

	// FS is the file-system seam (nil: the operating system).
	FS vfs.FS `prop:"-"`
	// Now is the store clock (nil: time.Now).
	Now func() time.Time `prop:"-"`
}

// DefaultOptions returns RocketMQ's defaults, rooted at $HOME/store.
func DefaultOptions() Options {
	home, err := os.UserHomeDir()
	if err != nil {
		home = "."
	}
	return Options{
		StorePathRootDir:           filepath.Join(home, "store"),
		MappedFileSizeCommitLog:    1 << 30,
		MappedFileSizeConsumeQueue: 300_000 * consumequeue.UnitSize,

		FlushDiskType:                     AsyncFlush,
		FlushIntervalCommitLog:            500,
		FlushCommitLogLeastPages:          4,
		FlushCommitLogThoroughInterval:    10_000,
		FlushIntervalConsumeQueue:         1000,
		FlushConsumeQueueLeastPages:       2,
		FlushConsumeQueueThoroughInterval: 60_000,
		SyncFlushTimeout:                  5000,

		FileReservedTime:            72,
		DeleteWhen:                  "04",
		DiskMaxUsedSpaceRatio:       75,
		DiskSpaceCleanForciblyRatio: 85,
		DiskSpaceWarningLevelRatio:  90,
		CleanResourceInterval:       10_000,
		CleanFileForciblyEnable:     true,

		MaxMessageSize:     4 << 20,
		MaxHashSlotNum:     5_000_000,
		MaxIndexNum:        20_000_000,
		MessageIndexEnable: true,
		CheckCRCOnRecover:  true,

		AccessMessageInMemoryMaxRatio:     40,
		MaxTransferBytesOnMessageInMemory: 256 << 10,
		MaxTransferCountOnMessageInMemory: 32,
		MaxTransferBytesOnMessageInDisk:   64 << 10,
		MaxTransferCountOnMessageInDisk:   8,

		MessageDelayLevel: "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h",
		BrokerRole:        RoleAsyncMaster,

		CommitLogWriteBufferSize: 4 << 20,
	}
}

// Validate reports every invalid field.
func (o *Options) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("store: "+format, args...)) }
	if o.StorePathRootDir == "" {
		bad("storePathRootDir is empty")
	}
	if o.FlushDiskType != AsyncFlush && o.FlushDiskType != SyncFlush {
		bad("flushDiskType %q: want %s or %s", o.FlushDiskType, AsyncFlush, SyncFlush)
	}
	switch o.BrokerRole {
	case RoleAsyncMaster, RoleSyncMaster, RoleSlave:
	default:
		bad("brokerRole %q", o.BrokerRole)
	}
	if o.MaxMessageSize < 1024 {
		bad("maxMessageSize %d below 1024", o.MaxMessageSize)
	}
	if o.MappedFileSizeCommitLog < int64(o.MaxMessageSize)+8 {
		bad("mappedFileSizeCommitLog %d must hold maxMessageSize (%d) + 8", o.MappedFileSizeCommitLog, o.MaxMessageSize)
	}
	if o.MappedFileSizeCommitLog > 1<<36 || o.MappedFileSizeConsumeQueue > 1<<36 {
		bad("segment sizes above 64 GiB")
	}
	if o.MappedFileSizeConsumeQueue < consumequeue.UnitSize {
		bad("mappedFileSizeConsumeQueue %d below one unit", o.MappedFileSizeConsumeQueue)
	}
	for name, v := range map[string]int{
		"flushIntervalCommitLog":            o.FlushIntervalCommitLog,
		"flushCommitLogThoroughInterval":    o.FlushCommitLogThoroughInterval,
		"flushIntervalConsumeQueue":         o.FlushIntervalConsumeQueue,
		"flushConsumeQueueThoroughInterval": o.FlushConsumeQueueThoroughInterval,
		"cleanResourceInterval":             o.CleanResourceInterval,
		"maxHashSlotNum":                    o.MaxHashSlotNum,
		"maxIndexNum":                       o.MaxIndexNum,
		"maxTransferBytesOnMessageInMemory": o.MaxTransferBytesOnMessageInMemory,
		"maxTransferCountOnMessageInMemory": o.MaxTransferCountOnMessageInMemory,
		"maxTransferBytesOnMessageInDisk":   o.MaxTransferBytesOnMessageInDisk,
		"maxTransferCountOnMessageInDisk":   o.MaxTransferCountOnMessageInDisk,
	} {
		if v <= 0 {
			bad("%s %d must be positive", name, v)
		}
	}
	if o.SyncFlushTimeout <= 0 {
		bad("syncFlushTimeout %d must be positive", o.SyncFlushTimeout)
	}
	if o.FlushCommitLogLeastPages < 0 || o.FlushConsumeQueueLeastPages < 0 {
		bad("least pages must not be negative")
	}
	if o.FileReservedTime <= 0 {
		bad("fileReservedTime %d must be positive", o.FileReservedTime)
	}
	if _, err := parseHours(o.DeleteWhen); err != nil {
		errs = append(errs, err)
	}
	for name, v := range map[string]int{
		"diskMaxUsedSpaceRatio":         o.DiskMaxUsedSpaceRatio,
		"diskSpaceCleanForciblyRatio":   o.DiskSpaceCleanForciblyRatio,
		"diskSpaceWarningLevelRatio":    o.DiskSpaceWarningLevelRatio,
		"accessMessageInMemoryMaxRatio": o.AccessMessageInMemoryMaxRatio,
	} {
		if v < 1 || v > 100 {
			bad("%s %d must be in 1..100", name, v)
		}
	}
	if _, err := ParseDelayLevels(o.MessageDelayLevel); err != nil {
		errs = append(errs, err)
	}
	if o.CommitLogWriteBufferSize < 0 {
		bad("commitLogWriteBufferSize %d", o.CommitLogWriteBufferSize)
	}
	return errors.Join(errs...)
}

// commitLogDir returns the commit-log directory.
func (o *Options) commitLogDir() string {
	if o.StorePathCommitLog != "" {
		return o.StorePathCommitLog
	}
	return filepath.Join(o.StorePathRootDir, "commitlog")
}

// unitsPerConsumeQueueFile rounds mappedFileSizeConsumeQueue up to units,
// as Java does.
func (o *Options) unitsPerConsumeQueueFile() int64 {
	return (o.MappedFileSizeConsumeQueue + consumequeue.UnitSize - 1) / consumequeue.UnitSize
}

// parseHours parses deleteWhen: hours of day separated by ';'.
func parseHours(s string) ([24]bool, error) {
	var hours [24]bool
	for _, f := range strings.Split(s, ";") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		h, err := strconv.Atoi(f)
		if err != nil || h < 0 || h > 23 {
			return hours, fmt.Errorf("store: deleteWhen %q: %q is not an hour", s, f)
		}
		hours[h] = true
	}
	return hours, nil
}

// ParseDelayLevels parses messageDelayLevel ("1s 5s 1m 2h 1d"): the delay
// of level i+1 in ms is element i.
func ParseDelayLevels(s string) ([]int64, error) {
	var out []int64
	for _, f := range strings.Fields(s) {
		if len(f) < 2 {
			return nil, fmt.Errorf("store: messageDelayLevel %q: bad level %q", s, f)
		}
		unit := map[byte]int64{'s': 1000, 'm': 60_000, 'h': 3_600_000, 'd': 86_400_000}[f[len(f)-1]]
		n, err := strconv.ParseInt(f[:len(f)-1], 10, 64)
		if unit == 0 || err != nil || n < 0 || n > math.MaxInt64/unit {
			return nil, fmt.Errorf("store: messageDelayLevel %q: bad level %q", s, f)
		}
		out = append(out, n*unit)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("store: messageDelayLevel %q has no levels", s)
	}
	return out, nil
}
