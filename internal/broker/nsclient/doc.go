// Package nsclient is the broker's side of the NameServer protocol:
// REGISTER_BROKER (103) and UNREGISTER_BROKER (104), and the Registrar that
// keeps one broker registered with every NameServer of namesrvAddr.
//
// # Registration
//
// REGISTER_BROKER carries the broker's identity in its header (brokerName,
// brokerAddr, clusterName, haServerAddr, brokerId, bodyCrc32) and its
// topic table in the body:
//
//	{"topicConfigSerializeWrapper":{"topicConfigTable":{...},
//	  "dataVersion":{...}},"filterServerList":[]}
//
// bodyCrc32 is CRC-32 (IEEE) of the body masked to 31 bits, as Java's
// UtilAll.crc32 computes it; a Java NameServer refuses a body that does
// not match. The compressed form (compressed=true) is never sent.
//
// # NameServers are independent
//
// Each NameServer gets a worker goroutine of its own. A worker registers
// at start, every period (registerNameServerPeriod, 30 s), and when
// kicked (a topic changed); kicks that arrive while a registration is in
// flight collapse into one more round, so a burst of topic changes costs
// one registration, not one per change. A NameServer that is down or
// slow only delays its own worker: the others register on time. Each
// round is bounded by the registration timeout (registerBrokerTimeoutMills).
//
// WaitFirstRound lets the broker's start wait for the first round with
// every NameServer (bounded by its context), and Sync lets a request that
// created a topic wait for a round that includes it with every NameServer
// that answered its last round (a NameServer that is down is kicked, not
// waited for).
//
// Close stops the workers (cancelling rounds in flight); Unregister then
// tells every NameServer, in parallel, that the broker is leaving.
package nsclient
