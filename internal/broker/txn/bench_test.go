package txn

import (
	"context"
	"fmt"
	"testing"

	"github.com/gorocket/gorocket/internal/message"
)

// BenchmarkTransaction measures one transaction through the store: the
// half message appended, then END_TRANSACTION (commit: look the half
// record up, append the committed message and the op record), as in the
// broker but without the network. ASYNC_FLUSH.
func BenchmarkTransaction(b *testing.B) {
	e := newEnv(b)
	s := e.service()
	body := make([]byte, 1024)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := range b.N {
		props := message.AppendProperty(nil, message.PropertyUniqClientMessageIDKeyIdx, fmt.Sprintf("U%031d", i))
		props = message.AppendProperty(props, message.PropertyTransactionPrepared, "true")
		props = message.AppendProperty(props, message.PropertyProducerGroup, "pg")
		m := &message.Inner{Topic: "T", QueueID: 0, Body: body, Properties: props,
			SysFlag: message.TransactionPreparedType, BornTimestamp: born, BornHost: testHost, StoreHost: testHost}
		PrepareHalf(m)
		res, err := e.store.PutMessage(ctx, m)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.End(ctx, EndRequest{ProducerGroup: "pg", TranStateTableOffset: res.QueueOffset,
			CommitLogOffset: res.CommitLogOffset, Commit: true}); err != nil {
			b.Fatal(err)
		}
	}
}
