package subscription

import (
	"encoding/json"
	"errors"
	"log/slog"

	"github.com/gorocket/gorocket/internal/broker/configfile"
	"github.com/gorocket/gorocket/internal/protocol"
)

// fileForm is subscriptionGroup.json. Entries stay raw on read so that
// each starts from Java's defaults and fails alone.
type fileForm struct {
	SubscriptionGroupTable map[string]json.RawMessage  `json:"subscriptionGroupTable"`
	ForbiddenTable         map[string]map[string]int32 `json:"forbiddenTable,omitempty"`
	DataVersion            *protocol.DataVersion       `json:"dataVersion"`
}

type fileOut struct {
	DataVersion            protocol.DataVersion                        `json:"dataVersion"`
	ForbiddenTable         map[string]map[string]int32                 `json:"forbiddenTable"`
	SubscriptionGroupTable map[string]protocol.SubscriptionGroupConfig `json:"subscriptionGroupTable"`
}

// decodeFile parses subscriptionGroup.json (fastjson's or ours). It fails
// only when the document as a whole is unusable; bad entries are skipped
// and logged.
func decodeFile(b []byte, log *slog.Logger) (*table, error) {
	var f fileForm
	if err := protocol.UnmarshalLenient(b, &f); err != nil {
		return nil, err
	}
	if f.SubscriptionGroupTable == nil && f.DataVersion == nil {
		return nil, errors.New("neither subscriptionGroupTable nor dataVersion present")
	}
	t := &table{groups: make(map[string]protocol.SubscriptionGroupConfig, len(f.SubscriptionGroupTable)), forbidden: f.ForbiddenTable}
	if f.DataVersion != nil {
		t.version = *f.DataVersion
	}
	for name, raw := range f.SubscriptionGroupTable {
		cfg := protocol.DefaultSubscriptionGroupConfig(name)
		if string(raw) == "null" {
			log.Warn("subscriptionGroup.json: null entry skipped", "group", clip(name))
			continue
		}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			log.Warn("subscriptionGroup.json: entry skipped", "group", clip(name), "err", err)
			continue
		}
		if cfg.GroupName != name {
			log.Warn("subscriptionGroup.json: entry's groupName differs from its key; using the key", "key", clip(name), "groupName", clip(cfg.GroupName))
			cfg.GroupName = name
		}
		if err := validateConfig(cfg); err != nil {
			log.Warn("subscriptionGroup.json: entry skipped", "group", clip(name), "err", err)
			continue
		}
		t.groups[name] = cfg
	}
	return t, nil
}

// encodeFile writes the table in the form decodeFile (and Java) reads.
func encodeFile(t *table) ([]byte, error) {
	forbidden := t.forbidden
	if forbidden == nil {
		forbidden = map[string]map[string]int32{}
	}
	return configfile.Marshal(fileOut{DataVersion: t.version, ForbiddenTable: forbidden, SubscriptionGroupTable: t.groups})
}
