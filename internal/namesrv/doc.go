// Package namesrv is the NameServer: the directory that brokers register
// with and that clients ask where a topic's queues live. It serves
// RocketMQ's remoting protocol on port 9876.
//
// It owns the wiring of a remoting server, the route table
// (internal/namesrv/routeinfo), the KV configuration
// (internal/namesrv/kvconfig), the request processors below and the
// periodic scan that expires silent brokers. Server is the component:
// New, Start, Addr, Close.
//
// # Several NameServers
//
// NameServers share nothing: each learns everything from the brokers,
// which register with every NameServer they are configured with (every
// 30 s), and clients fail over between them. Run as many as you want
// redundancy; losing one loses nothing but that endpoint. Only the KV
// configuration is per NameServer, as in RocketMQ: put it on each.
//
// # Requests
//
//	code  request                              answer
//	 100  PUT_KV_CONFIG                        persisted before SUCCESS
//	 101  GET_KV_CONFIG                        ext value; QUERY_NOT_FOUND (22)
//	 102  DELETE_KV_CONFIG                     SUCCESS, also for a missing key
//	 103  REGISTER_BROKER                      ext haServerAddr, masterAddr (slaves);
//	                                           body: KVTable of ORDER_TOPIC_CONFIG
//	 104  UNREGISTER_BROKER                    SUCCESS
//	 105  GET_ROUTEINFO_BY_TOPIC               TopicRouteData; TOPIC_NOT_EXIST (17)
//	 106  GET_BROKER_CLUSTER_INFO              ClusterInfo
//	 205  WIPE_WRITE_PERM_OF_BROKER            ext wipeTopicCount
//	 206  GET_ALL_TOPIC_LIST_FROM_NAMESERVER   TopicList (strict JSON)
//	 216  DELETE_TOPIC_IN_NAMESRV              topic, optional clusterName
//	 217  REGISTER_TOPIC_IN_NAMESRV            body TopicRouteData; only a new topic
//	 219  GET_KVLIST_BY_NAMESPACE              KVTable; QUERY_NOT_FOUND (22)
//	 224  GET_TOPICS_BY_CLUSTER                TopicList
//	 304  GET_SYSTEM_TOPIC_LIST_FROM_NS        TopicList: clusters, broker names, brokerAddr
//	 311  GET_UNIT_TOPIC_LIST                  TopicList (often empty)
//	 312  GET_HAS_UNIT_SUB_TOPIC_LIST          TopicList
//	 313  GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST   TopicList
//	 318  UPDATE_NAMESRV_CONFIG                refused: NO_PERMISSION (16), see Security
//	 319  GET_NAMESRV_CONFIG                   body: the options as Java properties
//	 322  QUERY_DATA_VERSION                   ext changed; body: DataVersion known
//	 327  ADD_WRITE_PERM_OF_BROKER             ext addTopicCount
//	 904  BROKER_HEARTBEAT                     refreshes liveness (acting-master brokers)
//
// Any other code gets REQUEST_CODE_NOT_SUPPORTED (3) from the transport.
// The topic lists answer SYSTEM_ERROR "disable" when enableAllTopicList or
// enableTopicList is off, as Java does, and routes answer SYSTEM_ERROR
// "name server not ready" for waitSecondsForService after start when
// needWaitForService is on (so that brokers re-register first).
//
// # Routes
//
// GET_ROUTEINFO_BY_TOPIC answers in fastjson's form, with bare numeric
// brokerAddrs keys ({0:"host:port"}), to clients older than V4_9_4 (401)
// that did not set acceptStandardJsonOnly=true — the official Go client
// always sends 317 and parses brokerAddrs by hand, accepting both — and in
// standard JSON otherwise, exactly as Java does. brokerAddrs is never
// empty or missing (the Go client crashes on that). With
// orderMessageEnable the route carries orderTopicConf, the topic's value
// in the ORDER_TOPIC_CONFIG namespace of the KV configuration. Queue data
// and broker data are sorted by broker name.
//
// # Liveness
//
// A broker is removed from routes at once when the connection it
// registered over closes, and otherwise when it has not registered (or
// refreshed) for 120 s; the scan runs every scanNotActiveBrokerInterval
// (5 s) and closes the expired broker's connection, as Java does. Since
// the remoting server closes connections idle for
// serverChannelMaxIdleTimeSeconds (120 s), a broker must register more
// often than that; RocketMQ brokers do every 30 s.
//
// # Bad input
//
// A request whose header lacks a required field or holds a value that
// does not parse, a REGISTER_BROKER body that is not JSON, is compressed
// (compressedRegister=true, whose custom binary layout is not supported),
// or fails its bodyCrc32, a broker or cluster name that is empty or
// contains control characters, a broker address that is not host:port
// (with a host of letters, digits and . - _ : % only: the Go client
// parses brokerAddrs by splitting at commas and stripping quotes), a
// topic name that breaks RocketMQ's rule (1 to 127 characters of
// [%|a-zA-Z0-9_-]): each gets INVALID_PARAMETER (29) with a remark that
// names the problem, and a log line; at most ten such lines are written
// per ten seconds, then a count of those suppressed, so a flood cannot
// drown the log. Nothing is changed by a refused request.
// Inside an accepted REGISTER_BROKER body, a topic config with a bad name,
// a negative or absurd (over 65536) queue count or an unknown permission
// bit is skipped with such a log line, and the rest of the registration
// stands: one odd topic must not take a whole broker out of the routes.
//
// Other failures answer SYSTEM_ERROR (1) with the reason: a KV change that
// could not be written to disk (and was undone), and a registration for a
// brokerId that another address holds with a newer stateVersion. Brokers
// older than 3.0.11, whose REGISTER_BROKER body is a bare topic-config
// wrapper, are not supported.
//
// # Security
//
// The remoting protocol has no authentication on the NameServer: anyone
// who can connect can register a broker, delete routes or change the KV
// configuration. Keep port 9876 on a trusted network.
//
// UPDATE_NAMESRV_CONFIG is refused outright. Unauthenticated config
// updates were the entry point of CVE-2023-33246 (remote command execution
// through the NameServer's and broker's update-config requests) and of
// CVE-2023-37582 (the NameServer's update could still point
// configStorePath or kvConfigPath at any file and have it written). Change
// namesrv.conf and restart instead.
//
// # Options
//
// Options carries RocketMQ's NamesrvConfig and NettyServerConfig keys as
// `prop` tags (listenPort, bindAddress, kvConfigPath, orderMessageEnable,
// scanNotActiveBrokerInterval, ...), so internal/config applies
// namesrv.conf to it unchanged.
package namesrv
