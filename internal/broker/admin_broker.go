package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/gorocket/gorocket/internal/config"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
	"github.com/gorocket/gorocket/internal/store"
)

// brokerVersionDesc is what GET_BROKER_RUNTIME_INFO reports as the
// broker's version: the RocketMQ version gorocket answers as.
var brokerVersionDesc = protocol.CurrentVersion.String()

// adminBrokerProcessor serves GET_BROKER_CONFIG (26) and
// GET_BROKER_RUNTIME_INFO (28).
type adminBrokerProcessor struct {
	opts      *Options
	storeOpts *store.Options
	boot      time.Time
	stats     func() store.Stats
	extra     func(map[string]string) // adds the broker's own figures
}

func (p *adminBrokerProcessor) register(s *remoting.Server) {
	s.Register(protocol.GetBrokerConfig, remoting.Spawn, remoting.ProcessorFunc(p.getBrokerConfig))
	s.Register(protocol.GetBrokerRuntimeInfo, remoting.Spawn, remoting.ProcessorFunc(p.getBrokerRuntimeInfo))
}

// getBrokerConfig answers the effective configuration as Java properties
// text, as "gorocket broker -p" prints it.
func (p *adminBrokerProcessor) getBrokerConfig(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var body bytes.Buffer
	if err := config.Print(&body, p.opts, p.storeOpts); err != nil {
		return nil, err
	}
	version, err := json.Marshal(protocol.DataVersion{Timestamp: p.boot.UnixMilli()})
	if err != nil {
		return nil, err
	}
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.ExtFields = protocol.EncodeHeader(nil, &protocol.GetBrokerConfigResponseHeader{Version: string(version)})
	resp.Body = body.Bytes()
	return resp, nil
}

// getBrokerRuntimeInfo answers the figures mqadmin brokerStatus and the
// dashboards read, under Java's keys where Java has one.
func (p *adminBrokerProcessor) getBrokerRuntimeInfo(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	st := p.stats()
	up := time.Since(p.boot)
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	t := map[string]string{
		"brokerVersionDesc":         brokerVersionDesc,
		"brokerVersion":             i(int64(protocol.CurrentVersion)),
		"bootTimestamp":             i(p.boot.UnixMilli()),
		"runtime":                   formatUptime(up),
		"brokerRole":                p.opts.BrokerRole,
		"commitLogMinOffset":        i(st.CommitLogMinOffset),
		"commitLogMaxOffset":        i(st.CommitLogMaxOffset),
		"remainHowManyDataToFlush":  i(max(st.CommitLogMaxOffset-st.CommitLogFlushedOffset, 0)),
		"dispatchBehindBytes":       i(st.DispatchBehindBytes),
		"msgPutTotalTodayNow":       i(st.PutMessageTimesTotal),
		"msgGetTotalTodayNow":       i(st.GetMessageTransferred),
		"putMessageTimesTotal":      i(st.PutMessageTimesTotal),
		"putMessageSizeTotal":       i(st.PutMessageSizeTotal),
		"putMessageFailedTimes":     i(st.PutMessageFailedTimes),
		"getMessageTimesTotalFound": i(st.GetMessageTimesFound),
		"getMessageTimesTotalMiss":  i(st.GetMessageTimesMiss),
		"consumeQueueCount":         strconv.Itoa(st.ConsumeQueues),
		"commitLogDiskRatio":        strconv.FormatFloat(st.DiskUsedRatio, 'f', 4, 64),
		"diskFull":                  strconv.FormatBool(st.DiskFull),
		"brokerActive":              "true",
	}
	if st.WriteError != "" {
		t["commitLogWriteError"] = st.WriteError
	}
	if st.DispatchError != "" {
		t["dispatchError"] = st.DispatchError
	}
	if p.extra != nil {
		p.extra(t)
	}
	body, err := protocol.EncodeBody(&protocol.KVTable{Table: t})
	if err != nil {
		return nil, err
	}
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.Body = body
	return resp, nil
}

// formatUptime writes Java's "[ 0 days, 1 hours, 2 minutes, 3 seconds ]".
func formatUptime(d time.Duration) string {
	s := int64(d / time.Second)
	return fmt.Sprintf("[ %d days, %d hours, %d minutes, %d seconds ]", s/86400, s%86400/3600, s%3600/60, s%60)
}
