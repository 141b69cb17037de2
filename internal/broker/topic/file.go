package topic

import (
	"encoding/json"
	"errors"
	"log/slog"

	"github.com/gorocket/gorocket/internal/broker/configfile"
	"github.com/gorocket/gorocket/internal/protocol"
)

// fileForm is topics.json as read: entries stay raw so that each can
// start from Java's defaults and fail alone.
type fileForm struct {
	TopicConfigTable map[string]json.RawMessage `json:"topicConfigTable"`
	DataVersion      *protocol.DataVersion      `json:"dataVersion"`
}

// decodeFile parses topics.json (fastjson's or ours). It fails only when
// the document as a whole is unusable; bad entries are skipped and
// logged.
func decodeFile(b []byte, log *slog.Logger) (map[string]protocol.TopicConfig, *protocol.DataVersion, error) {
	var f fileForm
	if err := protocol.UnmarshalLenient(b, &f); err != nil {
		return nil, nil, err
	}
	if f.TopicConfigTable == nil && f.DataVersion == nil {
		return nil, nil, errors.New("neither topicConfigTable nor dataVersion present")
	}
	topics := make(map[string]protocol.TopicConfig, len(f.TopicConfigTable))
	for name, raw := range f.TopicConfigTable {
		cfg := protocol.DefaultTopicConfig(name)
		if string(raw) == "null" {
			log.Warn("topics.json: null entry skipped", "topic", clip(name))
			continue
		}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			log.Warn("topics.json: entry skipped", "topic", clip(name), "err", err)
			continue
		}
		if cfg.TopicName != name {
			log.Warn("topics.json: entry's topicName differs from its key; using the key", "key", clip(name), "topicName", clip(cfg.TopicName))
			cfg.TopicName = name
		}
		if err := validateConfig(cfg); err != nil {
			log.Warn("topics.json: entry skipped", "topic", clip(name), "err", err)
			continue
		}
		topics[name] = cfg
	}
	return topics, f.DataVersion, nil
}

// encodeFile writes the table in the form decodeFile (and Java) reads.
func encodeFile(t *table) ([]byte, error) {
	return configfile.Marshal(protocol.TopicConfigSerializeWrapper{
		TopicConfigTable: t.topics,
		DataVersion:      t.version,
	})
}
