package broker

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/gorocket/gorocket/internal/filter"
	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
)

// pullFilter selects the messages of one pull: it is the store's
// MessageFilter while the pull reads, and the long-polling Matcher while
// the pull is held. The two uses never overlap, so one properties view
// serves both without allocating.
type pullFilter struct {
	all   bool               // "*": every message
	codes []int32            // TAG: the tag hash codes
	expr  *filter.Expression // SQL92
	props propertiesView     // the record being matched
	owned []int32            // backing store for codes parsed from a header
}

// propertiesView gives the SQL92 evaluator a record's encoded properties.
// Values are strings over the record's bytes, valid while the record is:
// the evaluator does not keep them.
type propertiesView struct{ b []byte }

func (v *propertiesView) Get(key string) (string, bool) {
	val, ok := message.PropertyValue(v.b, key)
	if !ok {
		return "", false
	}
	return unsafe.String(unsafe.SliceData(val), len(val)), true
}

// MatchByConsumeQueue implements store.MessageFilter: Java's
// ExpressionMessageFilter.isMatchedByConsumeQueue.
func (f *pullFilter) MatchByConsumeQueue(tagsCode int64) bool { return f.MatchTagsCode(tagsCode) }

// MatchTagsCode implements longpoll.Matcher.
func (f *pullFilter) MatchTagsCode(tagsCode int64) bool {
	if f.all || f.expr != nil {
		return true
	}
	c := int32(tagsCode) // Java compares tagsCode.intValue()
	for _, x := range f.codes {
		if x == c {
			return true
		}
	}
	return false
}

// MatchByCommitLog implements store.MessageFilter.
func (f *pullFilter) MatchByCommitLog(record []byte) bool {
	if f.expr == nil {
		return true
	}
	r, err := message.DecodeRecord(record)
	if err != nil {
		return false
	}
	return f.MatchProperties(r.Properties)
}

// MatchProperties implements longpoll.Matcher.
func (f *pullFilter) MatchProperties(props []byte) bool {
	if f.expr == nil {
		return true
	}
	f.props.b = props
	ok := f.expr.Match(&f.props)
	f.props.b = nil
	return ok
}

// isTagType reports whether an expression type means tags (Java's
// ExpressionType.isTagType: empty or TAG).
func isTagType(t string) bool { return t == "" || t == protocol.ExpressionTag }

// fromHeader builds the filter from a pull request's own subscription
// (the SUBSCRIPTION flag; Java's FilterAPI.build).
func (f *pullFilter) fromHeader(sub, exprType string, cache *filter.Cache) error {
	if isTagType(exprType) {
		sub = strings.TrimSpace(sub)
		if sub == "" || sub == protocol.SubAll {
			f.all = true
			return nil
		}
		for tag := range strings.SplitSeq(sub, "||") {
			if tag = strings.TrimSpace(tag); tag != "" {
				f.owned = append(f.owned, message.JavaHashCode(tag))
			}
		}
		f.codes = f.owned
		return nil
	}
	return f.compile(sub, exprType, cache)
}

// fromSubscription builds the filter from a heartbeat-registered
// subscription.
func (f *pullFilter) fromSubscription(sd *protocol.SubscriptionData, cache *filter.Cache) error {
	if isTagType(sd.ExpressionType) {
		if sd.SubString == "" || sd.SubString == protocol.SubAll {
			f.all = true
			return nil
		}
		f.codes = sd.CodeSet
		return nil
	}
	return f.compile(sd.SubString, sd.ExpressionType, cache)
}

// errUnknownExpressionType is a subscription whose type is neither TAG
// nor SQL92.
type errUnknownExpressionType string

func (e errUnknownExpressionType) Error() string {
	return fmt.Sprintf("unknown expression type %q (want TAG or SQL92)", string(e))
}

func (f *pullFilter) compile(text, exprType string, cache *filter.Cache) error {
	if exprType != protocol.ExpressionSQL92 {
		return errUnknownExpressionType(clip(exprType))
	}
	e, err := cache.Compile(text)
	if err != nil {
		return err
	}
	f.expr = e
	return nil
}

// isSQL reports whether the filter is a SQL92 one.
func (f *pullFilter) isSQL() bool { return f.expr != nil }
