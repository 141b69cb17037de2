package kvconfig

import (
	"reflect"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the kvConfig.json reader: it must
// never panic, and whatever it accepts must survive a write and a read
// unchanged.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"configTable":{"ORDER_TOPIC_CONFIG":{"TopicTest":"broker-a:4"}}}`))
	f.Add([]byte("{\n\t\"configTable\":{\n\t\t\"ns\":{\n\t\t\t\"k\":\"v\"\n\t\t}\n\t}\n}"))
	f.Add([]byte(`{"configTable":{ns:{k:"v"},"x":null}}`))
	f.Add([]byte(`{"configTable":{"ns":{"k":"\u00e9\ud83d\ude00"}}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"configTable":[]}`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		table, err := Decode(data)
		if err != nil {
			return
		}
		again, err := Decode(Encode(table))
		if err != nil {
			t.Fatalf("re-reading what we wrote: %v", err)
		}
		if !reflect.DeepEqual(table, again) {
			t.Fatalf("round trip changed the table:\n%v\n%v", table, again)
		}
	})
}
