package schedule

import (
	"fmt"
	"maps"
	"strconv"

	"github.com/gorocket/gorocket/internal/broker/configfile"
	"github.com/gorocket/gorocket/internal/protocol"
)

// OffsetFile is the name of the delay offsets file in the config
// directory (BrokerPathConfigHelper.getDelayOffsetStorePath).
const OffsetFile = "delayOffset.json"

// offsetTable is delayOffset.json: level -> next schedule queue offset.
type offsetTable struct {
	OffsetTable map[int32]int64 `json:"offsetTable"`
}

// decodeOffsets parses delayOffset.json (bare or quoted numeric keys). A
// level outside 1..maxLevel is kept (the levels may be reconfigured) but
// a negative offset is an error.
func decodeOffsets(data []byte) (map[int32]int64, error) {
	var raw struct {
		OffsetTable map[string]int64 `json:"offsetTable"`
	}
	if err := protocol.UnmarshalLenient(data, &raw); err != nil {
		return nil, err
	}
	out := make(map[int32]int64, len(raw.OffsetTable))
	for k, v := range raw.OffsetTable {
		level, err := strconv.ParseInt(k, 10, 32)
		if err != nil || level < 1 {
			return nil, fmt.Errorf("schedule: %s: bad level %q", OffsetFile, k)
		}
		if v < 0 {
			return nil, fmt.Errorf("schedule: %s: level %d has negative offset %d", OffsetFile, level, v)
		}
		out[int32(level)] = v
	}
	return out, nil
}

// encodeOffsets renders the table as the file and GET_ALL_DELAY_OFFSET
// carry it.
func encodeOffsets(t map[int32]int64) ([]byte, error) {
	return configfile.Marshal(offsetTable{OffsetTable: maps.Clone(t)})
}
