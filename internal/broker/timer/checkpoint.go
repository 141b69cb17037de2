package timer

import (
	"errors"
	"fmt"

	"github.com/gorocket/gorocket/internal/broker/configfile"
	"github.com/gorocket/gorocket/internal/protocol"
)

// CheckpointFile is the checkpoint's name in the timer directory.
const CheckpointFile = "checkpoint.json"

// checkpoint is checkpoint.json (package comment).
type checkpoint struct {
	EnqueueOffset int64 `json:"enqueueOffset"`
	LogEnd        int64 `json:"logEnd"`
	DequeueSlot   int64 `json:"dequeueSlot"`
	DequeueMs     int64 `json:"dequeueMs"`
	PrecisionMs   int64 `json:"precisionMs"`
	WindowSlots   int64 `json:"windowSlots"`
}

// errCheckpoint marks a checkpoint that cannot be used.
var errCheckpoint = errors.New("timer: bad checkpoint")

func decodeCheckpoint(data []byte) (checkpoint, error) {
	var c checkpoint
	if err := protocol.UnmarshalLenient(data, &c); err != nil {
		return c, err
	}
	if c.EnqueueOffset < 0 || c.LogEnd < 0 || c.LogEnd%entrySize != 0 || c.PrecisionMs <= 0 || c.WindowSlots < 2 {
		return c, fmt.Errorf("%w: %+v", errCheckpoint, c)
	}
	return c, nil
}

func encodeCheckpoint(c checkpoint) ([]byte, error) { return configfile.Marshal(c) }
