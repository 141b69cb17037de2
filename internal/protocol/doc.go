// Package protocol holds the definitions of RocketMQ's remoting protocol
// that sit above the frame: request and response codes, the typed custom
// headers that travel in a command's extFields, and the JSON bodies.
//
// It owns no I/O. internal/remoting moves frames; the NameServer, the broker
// and the client SDK use this package to give those frames meaning.
//
// # Codes
//
// codes.txt is the one table of request and response codes; gen_codes.go
// turns it into constants with String methods (`go generate`). Names are
// the Java constants in Go casing: GET_ROUTEINFO_BY_TOPIC (105) is
// GetRouteInfoByTopic, PULL_NOT_FOUND (19) is PullNotFound.
//
// # Custom headers
//
// A command's extFields (type ExtFields) map field names to strings; Java
// builds them by reflection over a header class, so the names are the Java
// field names and every value is the field's toString. Typed headers here
// convert to and from ExtFields:
//
//   - The hot ones (SEND_MESSAGE, SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE with
//     their one-letter names a..n, PULL_MESSAGE, the send and pull responses)
//     are written by hand: one pass over the fields, no reflection. Encoding
//     allocates only the text of numbers too large for strconv's small-number
//     strings (the send header's born timestamp: AppendExtV2Text writes it
//     into the caller's buffer instead; the response's offsets).
//   - The others declare their fields with `ext:"name"` or
//     `ext:"name,required"` tags and go through a small reflection codec that
//     caches each type's layout.
//
// DecodeHeader and EncodeHeader are the entry points for both kinds.
// Missing required fields and numbers that do not parse are reported as a
// *FieldError naming the field; servers put its text in the remark of the
// error response. Numbers parse like Java's Integer.parseInt/Long.parseLong
// (optional sign, decimal digits, range-checked); booleans like
// Boolean.parseBoolean ("true" in any case is true, anything else false).
//
// # Bodies
//
// Java writes bodies with fastjson, whose default output is not always
// JSON: map keys that are numbers are written bare ({0:"a"}), and map keys
// that are objects are written as objects ({{"topic":"t"}:1}). DecodeBody
// reads what Java, the Go client or we wrote: NormalizeJSON first rewrites
// those forms into standard JSON (object keys become strings holding the
// key's JSON, which MQMap parses back), then encoding/json does the rest.
//
// EncodeBody writes what the readers of each body need:
//
//   - TopicRouteData: fastjson's form with bare brokerAddrs keys for
//     clients older than V4_9_4 that did not set acceptStandardJsonOnly
//     (what the Java name server does), standard JSON otherwise
//     (RouteWantsStandardJSON, TopicRouteData.Encode); brokerAddrs is never
//     left out, because the Go client crashes without it.
//   - Bodies keyed by MessageQueue (ConsumeStats, TopicStatsTable,
//     ResetOffsetBody, GetConsumerStatusBody): fastjson's object-key form,
//     which Java tools need and the Go client's ResetOffsetBody parser
//     expects (no spaces, bare integers).
//   - Everything else: standard JSON, which fastjson reads, and which the Go
//     client requires where it uses encoding/json (TopicList,
//     SubscriptionGroupWrapper).
//
// Object keys are written in fastjson's alphabetical order where we write
// by hand; no reader depends on it, but it keeps our output diffable
// against a Java broker's.
package protocol
