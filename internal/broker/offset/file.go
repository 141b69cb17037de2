package offset

import (
	"errors"
	"log/slog"
	"strings"

	"github.com/gorocket/gorocket/internal/protocol"
)

// decodeFile parses consumerOffset.json (fastjson's or ours) into a fresh
// table. Entries that cannot be used are skipped and logged; the
// document as a whole must parse and hold an offsetTable.
func decodeFile(b []byte, log *slog.Logger) (map[key]*entry, *protocol.DataVersion, error) {
	var w protocol.ConsumerOffsetSerializeWrapper
	if err := protocol.UnmarshalLenient(b, &w); err != nil {
		return nil, nil, err
	}
	if w.OffsetTable == nil {
		return nil, nil, errors.New("no offsetTable")
	}
	table := make(map[key]*entry, len(w.OffsetTable))
	for name, queues := range w.OffsetTable {
		topic, group, ok := strings.Cut(name, "@")
		if !ok || !validName(topic) || !validName(group) {
			log.Warn("consumerOffset.json: key is not topic@group; skipped", "key", clip(name))
			continue
		}
		e := &entry{offsets: make(map[int32]int64, len(queues))}
		for q, off := range queues {
			if q < 0 || off < 0 {
				log.Warn("consumerOffset.json: negative queue id or offset; skipped", "key", clip(name), "queueId", q, "offset", off)
				continue
			}
			e.offsets[q] = off
		}
		table[key{topic, group}] = e
	}
	return table, w.DataVersion, nil
}

func clip(s string) string {
	const max = 300
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
