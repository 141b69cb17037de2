// Package client is gorocket's Go client for Apache RocketMQ's remoting
// protocol: a producer, a low-level pull consumer, a small push consumer
// and the admin calls that tools need. It talks to gorocket and to Java
// RocketMQ (4.x and 5.x brokers and name servers) alike.
//
// # Shape
//
// A [Client] is one connection to a cluster: the name-server list, the
// route cache, one TCP connection per broker, the heartbeat and the handling
// of requests brokers send back. [Producer], [PullConsumer], [PushConsumer]
// and [Admin] are built on a Client and share it:
//
//	c, err := client.New(client.Options{NameServers: []string{"127.0.0.1:9876"}})
//	...
//	defer c.Close()
//	p, err := client.NewProducer(c, client.ProducerOptions{Group: "pg"})
//	...
//	res, err := p.Send(ctx, &client.Message{Topic: "T", Body: body})
//
// There is no process-wide registry: two Clients are two independent sets
// of connections with two client ids, which is how a load generator gets
// one connection per producer. Each type that owns goroutines stops all of
// them in Close; Close is idempotent. Close producers and consumers before
// their Client (Client.Close closes push consumers still running, so that
// none is left without connections).
//
// Every call that does I/O takes a context. A context without a deadline
// gets Options.RequestTimeout per request (a sync send's retries share one
// such budget, as in RocketMQ's clients).
//
// # Routing
//
// Routes (TopicRouteData, GET_ROUTEINFO_BY_TOPIC) are fetched from the name
// servers round-robin, moving to the next one when a server cannot be
// reached, cached per topic, refreshed every Options.RouteRefreshInterval
// and sooner after a send fails in a way that suggests the route is stale.
// A topic publishes to the write queues of brokers that have a master
// (broker id 0) and whose perm allows writing; it is consumed from the read
// queues of brokers whose perm allows reading. A producer whose topic is
// unknown to the name servers borrows the route of
// ProducerOptions.CreateTopicKey (TBW102), with at most
// DefaultTopicQueueNums queues per broker, so that a broker with
// autoCreateTopicEnable creates the topic on the first send — what the
// official clients do.
//
// # Sending
//
// Sync sends ([Producer.Send], [Producer.SendBatch]) retry on another broker
// when the transport fails or the broker answers SYSTEM_ERROR,
// SERVICE_NOT_AVAILABLE, NO_PERMISSION or TOPIC_NOT_EXIST, up to
// ProducerOptions.MaxAttempts attempts within the context's deadline.
// A retried message may be stored twice (at-least-once). Async sends
// ([Producer.SendAsync], [Producer.SendBatchAsync]) never retry; at most
// ProducerOptions.MaxInFlight of them are outstanding per producer, and a
// send that finds no free slot waits for one, so a fast caller is slowed
// down instead of buffering without bound. Many async sends are in flight
// on one connection at once (pipelining); their frames leave in batches of
// one writev. [Producer.Connect] fetches routes and dials brokers up front,
// which sends otherwise do on first use.
//
// A send costs no context or timer of its own: a context without a
// deadline gets Options.RequestTimeout through the transport's
// per-connection deadline heap, and a send's command, header fields and
// callback state live in one pooled object (about 4 allocations per async
// send in all).
//
// Every message gets a UNIQ_KEY (its client-side message id) before its
// first attempt; retries reuse it, so a broker or consumer can recognise a
// duplicate.
//
// Send requests use SEND_MESSAGE_V2 (the single-letter header) and, by
// default, the ROCKETMQ binary header serialization: what Java's benchmark
// tool sends, and the cheapest pair to write and to read (a 1 KiB send's
// header is 238 bytes, against 429 for SEND_MESSAGE in JSON; see
// BenchmarkSendHeader). Options.JSONHeaders switches back to JSON for
// brokers that cannot read the binary form.
//
// # Ownership of bytes
//
// A message's Body is read by the transport until the send completes
// (Send returns, or SendAsync's callback runs); do not modify it before.
// After a send that failed or timed out, a body over 2 KiB may still sit in
// the connection's write queue until the connection writes or drops it.
//
// Messages returned by a pull alias the response's body: MessageExt.Body and
// the properties point into one buffer per pull response, which the client
// never reuses. Holding any message keeps its whole batch alive; copy the
// body if you keep a few messages of a large batch for long. Compressed
// bodies are inflated into their own buffers.
//
// # Consuming
//
// [PullConsumer] is the low-level API: pull a queue at an offset, with
// optional long polling, and read or commit offsets on the broker.
//
// [PushConsumer] runs a clustering consumer group: it heartbeats its
// subscriptions, splits the topic's queues among the group's members with
// AllocateByAveragely over GET_CONSUMER_LIST_BY_GROUP (again when a broker
// sends NOTIFY_CONSUMER_IDS_CHANGED, and every RebalanceInterval), runs one
// long-polling pull loop per owned queue and hands each batch to the
// handler. Offsets advance only after the handler returns nil; they are
// committed every CommitInterval, on every pull through the commit-offset
// flag, and when a queue is given up. A handler error redelivers the same
// batch after a backoff, so a poison message stalls its queue rather than
// being lost (there is no retry topic or dead-letter queue yet).
//
// # Security
//
// Options.Credentials sign every request as Java's AclClientRPCHook does
// (HMAC-SHA1 over the header values in key order and the body), for
// clusters with ACL enabled.
//
// # Errors
//
// Errors wrap the sentinels below ([ErrClosed], [ErrTopicNotExist], ...)
// and, when a broker or name server refused a request, a [*BrokerError]
// carrying its response code and remark; check with errors.Is and
// errors.As.
package client
