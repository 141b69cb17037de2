package protocol

import "encoding/json"

// encoding/json writes a nil slice or map as null. Java readers iterate
// these collections without a null check (a heartbeat with
// "producerDataSet":null fails on a Java broker), so the bodies below write
// [] and {} instead.

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func orEmptyMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return map[K]V{}
	}
	return m
}

// MarshalJSON writes nil sets as [].
func (h HeartbeatData) MarshalJSON() ([]byte, error) {
	type plain HeartbeatData
	p := plain(h)
	p.ProducerDataSet = orEmpty(p.ProducerDataSet)
	p.ConsumerDataSet = orEmpty(p.ConsumerDataSet)
	return json.Marshal(p)
}

// MarshalJSON writes a nil subscription set as [].
func (c ConsumerData) MarshalJSON() ([]byte, error) {
	type plain ConsumerData
	p := plain(c)
	p.SubscriptionDataSet = orEmpty(p.SubscriptionDataSet)
	return json.Marshal(p)
}

// MarshalJSON writes nil tag and code sets as [].
func (s SubscriptionData) MarshalJSON() ([]byte, error) {
	type plain SubscriptionData
	p := plain(s)
	p.TagsSet = orEmpty(p.TagsSet)
	p.CodeSet = orEmpty(p.CodeSet)
	return json.Marshal(p)
}

// MarshalJSON writes a nil list as [].
func (l ConsumerListByGroup) MarshalJSON() ([]byte, error) {
	type plain ConsumerListByGroup
	return json.Marshal(plain{ConsumerIDList: orEmpty(l.ConsumerIDList)})
}

// MarshalJSON writes a nil list as [].
func (l TopicList) MarshalJSON() ([]byte, error) {
	type plain TopicList
	p := plain(l)
	p.TopicList = orEmpty(p.TopicList)
	return json.Marshal(p)
}

// MarshalJSON writes a nil list as [].
func (l GroupList) MarshalJSON() ([]byte, error) {
	type plain GroupList
	return json.Marshal(plain{GroupList: orEmpty(l.GroupList)})
}

// MarshalJSON writes a nil set as [].
func (b LockBatchRequestBody) MarshalJSON() ([]byte, error) {
	type plain LockBatchRequestBody
	p := plain(b)
	p.MQSet = orEmpty(p.MQSet)
	return json.Marshal(p)
}

// MarshalJSON writes a nil set as [].
func (b LockBatchResponseBody) MarshalJSON() ([]byte, error) {
	type plain LockBatchResponseBody
	return json.Marshal(plain{LockOKMQSet: orEmpty(b.LockOKMQSet)})
}

// MarshalJSON writes a nil set as [].
func (c ProducerConnection) MarshalJSON() ([]byte, error) {
	type plain ProducerConnection
	return json.Marshal(plain{ConnectionSet: orEmpty(c.ConnectionSet)})
}

// MarshalJSON writes a nil set as [].
func (c ConsumerConnection) MarshalJSON() ([]byte, error) {
	type plain ConsumerConnection
	p := plain(c)
	p.ConnectionSet = orEmpty(p.ConnectionSet)
	p.SubscriptionTable = orEmptyMap(p.SubscriptionTable)
	return json.Marshal(p)
}

// MarshalJSON writes a nil list as [].
func (b RegisterBrokerBody) MarshalJSON() ([]byte, error) {
	type plain RegisterBrokerBody
	p := plain(b)
	p.FilterServerList = orEmpty(p.FilterServerList)
	return json.Marshal(p)
}

// MarshalJSON writes nil tables as {}.
func (c ClusterInfo) MarshalJSON() ([]byte, error) {
	type plain ClusterInfo
	return json.Marshal(plain{BrokerAddrTable: orEmptyMap(c.BrokerAddrTable), ClusterAddrTable: orEmptyMap(c.ClusterAddrTable)})
}

// MarshalJSON writes a nil table as {}.
func (t KVTable) MarshalJSON() ([]byte, error) {
	type plain KVTable
	return json.Marshal(plain{Table: orEmptyMap(t.Table)})
}

// MarshalJSON writes a nil table as {}.
func (w TopicConfigSerializeWrapper) MarshalJSON() ([]byte, error) {
	type plain TopicConfigSerializeWrapper
	p := plain(w)
	p.TopicConfigTable = orEmptyMap(p.TopicConfigTable)
	return json.Marshal(p)
}

// MarshalJSON writes a nil table as {}.
func (w SubscriptionGroupWrapper) MarshalJSON() ([]byte, error) {
	type plain SubscriptionGroupWrapper
	p := plain(w)
	p.SubscriptionGroupTable = orEmptyMap(p.SubscriptionGroupTable)
	return json.Marshal(p)
}

// MarshalJSON writes a nil table as {}.
func (w ConsumerOffsetSerializeWrapper) MarshalJSON() ([]byte, error) {
	type plain ConsumerOffsetSerializeWrapper
	p := plain(w)
	p.OffsetTable = orEmptyMap(p.OffsetTable)
	return json.Marshal(p)
}

// MarshalJSON writes a nil set as [].
func (b QueryConsumeTimeSpanBody) MarshalJSON() ([]byte, error) {
	type plain QueryConsumeTimeSpanBody
	return json.Marshal(plain{ConsumeTimeSpanSet: orEmpty(b.ConsumeTimeSpanSet)})
}
