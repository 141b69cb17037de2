package protocol

import (
	"encoding/json"
	"slices"
	"strconv"
)

// TopicRouteData answers GET_ROUTEINFO_BY_TOPIC: which brokers hold the
// topic's queues and where they listen.
type TopicRouteData struct {
	OrderTopicConf    string              `json:"orderTopicConf,omitempty"`
	QueueDatas        []QueueData         `json:"queueDatas"`
	BrokerDatas       []BrokerData        `json:"brokerDatas"`
	FilterServerTable map[string][]string `json:"filterServerTable"`
}

// QueueData is the topic's queues on one broker. (The Go client spells the
// last field topicSynFlag and so ignores it.)
type QueueData struct {
	BrokerName     string `json:"brokerName"`
	ReadQueueNums  int32  `json:"readQueueNums"`
	WriteQueueNums int32  `json:"writeQueueNums"`
	Perm           int32  `json:"perm"`
	TopicSysFlag   int32  `json:"topicSysFlag"`
}

// MasterID is the broker id of a master in BrokerData.BrokerAddrs.
const MasterID = 0

// BrokerData is one broker group: its cluster, name and the addresses of
// its members by broker id (0 is the master).
type BrokerData struct {
	Cluster            string           `json:"cluster"`
	BrokerName         string           `json:"brokerName"`
	BrokerAddrs        map[int64]string `json:"brokerAddrs"`
	ZoneName           string           `json:"zoneName,omitempty"`
	EnableActingMaster bool             `json:"enableActingMaster"`
}

// MarshalJSON writes standard JSON and never leaves brokerAddrs out: the
// Go client crashes on a route whose brokerAddrs is missing.
func (b BrokerData) MarshalJSON() ([]byte, error) {
	return b.appendJSON(nil, true), nil
}

// appendJSON writes the broker data with fastjson's key order; brokerAddrs
// keys are quoted when standard is set and bare otherwise.
func (b BrokerData) appendJSON(dst []byte, standard bool) []byte {
	dst = append(dst, `{"brokerAddrs":{`...)
	ids := make([]int64, 0, len(b.BrokerAddrs))
	for id := range b.BrokerAddrs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for i, id := range ids {
		if i > 0 {
			dst = append(dst, ',')
		}
		if standard {
			dst = append(dst, '"')
		}
		dst = strconv.AppendInt(dst, id, 10)
		if standard {
			dst = append(dst, '"')
		}
		dst = append(dst, ':')
		dst = AppendJSONString(dst, b.BrokerAddrs[id])
	}
	dst = append(dst, `},"brokerName":`...)
	dst = AppendJSONString(dst, b.BrokerName)
	dst = append(dst, `,"cluster":`...)
	dst = AppendJSONString(dst, b.Cluster)
	dst = append(dst, `,"enableActingMaster":`...)
	dst = strconv.AppendBool(dst, b.EnableActingMaster)
	if b.ZoneName != "" {
		dst = append(dst, `,"zoneName":`...)
		dst = AppendJSONString(dst, b.ZoneName)
	}
	return append(dst, '}')
}

// MasterAddr returns the master's address, or "" when there is none.
func (b BrokerData) MasterAddr() string { return b.BrokerAddrs[MasterID] }

// RouteWantsStandardJSON reports whether a GET_ROUTEINFO_BY_TOPIC request
// from a client of this version, with this acceptStandardJsonOnly value, is
// answered in standard JSON. Older clients get fastjson's form with bare
// numeric brokerAddrs keys, as the Java name server sends them.
func RouteWantsStandardJSON(version MQVersion, acceptStandardJSONOnly bool) bool {
	return version >= V4_9_4 || acceptStandardJSONOnly
}

// Encode writes the route with fastjson's key order, brokerAddrs keys
// quoted when standard is set and bare ({0:"host:port"}) otherwise, and
// brokerAddrs and filterServerTable always present.
func (r *TopicRouteData) Encode(standard bool) []byte {
	dst := append([]byte(nil), `{"brokerDatas":[`...)
	for i, b := range r.BrokerDatas {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = b.appendJSON(dst, standard)
	}
	dst = append(dst, `],"filterServerTable":`...)
	if len(r.FilterServerTable) == 0 {
		dst = append(dst, "{}"...)
	} else {
		fs, _ := json.Marshal(r.FilterServerTable) // map[string][]string cannot fail
		dst = append(dst, fs...)
	}
	if r.OrderTopicConf != "" {
		dst = append(dst, `,"orderTopicConf":`...)
		dst = AppendJSONString(dst, r.OrderTopicConf)
	}
	dst = append(dst, `,"queueDatas":[`...)
	for i, q := range r.QueueDatas {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"brokerName":`...)
		dst = AppendJSONString(dst, q.BrokerName)
		dst = append(dst, `,"perm":`...)
		dst = strconv.AppendInt(dst, int64(q.Perm), 10)
		dst = append(dst, `,"readQueueNums":`...)
		dst = strconv.AppendInt(dst, int64(q.ReadQueueNums), 10)
		dst = append(dst, `,"topicSysFlag":`...)
		dst = strconv.AppendInt(dst, int64(q.TopicSysFlag), 10)
		dst = append(dst, `,"writeQueueNums":`...)
		dst = strconv.AppendInt(dst, int64(q.WriteQueueNums), 10)
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

// appendBody makes EncodeBody write standard JSON.
func (r *TopicRouteData) appendBody(dst []byte) ([]byte, error) {
	return append(dst, r.Encode(true)...), nil
}
