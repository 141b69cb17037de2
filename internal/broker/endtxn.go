package broker

import (
	"context"
	"errors"
	"log/slog"

	"github.com/gorocket/gorocket/internal/broker/txn"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
	"github.com/gorocket/gorocket/internal/store"
)

// transactionEnder carries out END_TRANSACTION (txn.Service).
type transactionEnder interface {
	End(ctx context.Context, r txn.EndRequest) (txn.EndOutcome, error)
}

// endTransactionProcessor serves END_TRANSACTION (37): a producer commits
// or rolls back the transaction of a half message it sent, on its own or
// answering a check-back.
//
//	request                                      answer
//	commit or rollback stored                    SUCCESS
//	transaction ended before (a duplicate END)   SUCCESS, remark says nothing changed
//	commitOrRollback 0 (unknown)                 SUCCESS, remark says nothing changed (see below)
//	commitOrRollback not 0, 8 or 12              SYSTEM_ERROR
//	no half message at commitLogOffset           SYSTEM_ERROR "find prepared transaction message failed"
//	PGROUP differs from producerGroup            SYSTEM_ERROR "the producer group wrong"
//	queue offset differs (tranStateTableOffset)  SYSTEM_ERROR "the transaction state table offset wrong"
//	commit-log offset differs                    SYSTEM_ERROR "the commit log offset wrong"
//	a check-back of it is being written          SYSTEM_BUSY (after waiting up to 10 s)
//	the store refused the committed message      the code Java's sendFinalMessage gives
//	the broker is a slave                        SLAVE_NOT_AVAILABLE
//
// Java answers nothing to an unknown state. The transport cannot leave a
// request that is not flagged oneway unanswered without counting it in
// flight until the connection closes, and the Go client sends its "oneway"
// END_TRANSACTION without the flag, so the broker answers SUCCESS instead;
// Java clients flag it oneway and never see an answer, the Go client drops
// it. Nothing changes either way.
type endTransactionProcessor struct {
	ender transactionEnder // nil on a slave
	slave bool
	bad   *rateLog
}

func (p *endTransactionProcessor) ProcessRequest(ctx context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.EndTransactionRequestHeader
	if err := p.bad.decodeHeader(c, req, &h); err != nil {
		return nil, err
	}
	if p.slave || p.ender == nil {
		return nil, p.bad.refuse(c, req, protocol.SlaveNotAvailable, "the broker is a slave: end transactions on its master")
	}
	var commit bool
	switch h.CommitOrRollback {
	case protocol.TransactionNotType:
		p.bad.Log(slog.LevelInfo, "producer ended a transaction with an unknown state; it will be checked back",
			"conn", c.RemoteAddr(), "group", clip(h.ProducerGroup), "msgId", clip(h.MsgID),
			"fromTransactionCheck", h.FromTransactionCheck, "remark", clip(req.Remark))
		return remoting.NewResponse(req, protocol.Success, "transaction state unknown: nothing changed"), nil
	case protocol.TransactionCommitType:
		commit = true
	case protocol.TransactionRollbackType:
	default:
		return nil, p.bad.refuse(c, req, protocol.SystemError,
			"commitOrRollback %d is none of 0 (unknown), 8 (commit) and 12 (rollback)", h.CommitOrRollback)
	}
	if h.TranStateTableOffset < 0 || h.CommitLogOffset < 0 {
		return nil, p.bad.refuse(c, req, protocol.SystemError, "negative offset: tranStateTableOffset %d, commitLogOffset %d",
			h.TranStateTableOffset, h.CommitLogOffset)
	}
	out, err := p.ender.End(ctx, txn.EndRequest{
		ProducerGroup:        h.ProducerGroup,
		TranStateTableOffset: h.TranStateTableOffset,
		CommitLogOffset:      h.CommitLogOffset,
		Commit:               commit,
	})
	switch {
	case err == nil && out == txn.AlreadyEnded:
		return remoting.NewResponse(req, protocol.Success, "the transaction was already ended: nothing changed"), nil
	case err == nil:
		return remoting.NewResponse(req, protocol.Success, ""), nil
	case errors.Is(err, txn.ErrHalfNotFound), errors.Is(err, txn.ErrProducerGroup),
		errors.Is(err, txn.ErrQueueOffset), errors.Is(err, txn.ErrCommitLogOffset):
		return nil, p.bad.refuse(c, req, protocol.SystemError, "%v", err)
	case errors.Is(err, txn.ErrBusy):
		return nil, p.bad.refuse(c, req, protocol.SystemBusy, "%v", err)
	case errors.Is(err, txn.ErrClosed):
		return nil, p.bad.refuse(c, req, protocol.ServiceNotAvailable, "the broker is shutting down")
	case errors.Is(err, context.Canceled):
		return nil, err // the connection closed: nobody to answer
	}
	code := protocol.SystemError
	switch store.PutStatusOf(err) {
	case store.PutServiceNotAvailable:
		code = protocol.ServiceNotAvailable
	case store.PutMessageIllegal, store.PutPropertiesSizeExceeded:
		code = protocol.MessageIllegal
	}
	return nil, p.bad.refuse(c, req, code, "cannot store the transaction's outcome: %v", err)
}
