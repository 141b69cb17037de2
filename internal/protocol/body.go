package protocol

import "encoding/json"

// fastJSONBody is implemented by bodies whose wire form is not what
// encoding/json writes (maps keyed by objects, bare numeric keys).
type fastJSONBody interface {
	appendBody(dst []byte) ([]byte, error)
}

// EncodeBody returns the JSON body for v: the fastjson-compatible form for
// types that need one (see each type), encoding/json otherwise.
func EncodeBody(v any) ([]byte, error) {
	if b, ok := v.(fastJSONBody); ok {
		return b.appendBody(nil)
	}
	return json.Marshal(v)
}

// DecodeBody reads a JSON body written by Java (fastjson), the Go client
// or us into v. It accepts fastjson's non-standard forms; see
// NormalizeJSON.
func DecodeBody(data []byte, v any) error {
	return UnmarshalLenient(data, v)
}
