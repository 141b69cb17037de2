package txn

import (
	"testing"

	"github.com/gorocket/gorocket/internal/message"
)

// FuzzParseOpBody: any op record body parses or fails cleanly.
func FuzzParseOpBody(f *testing.F) {
	for _, s := range []string{"12", "1,2,", " 3 , 4 ", "", "x", "-1", "1,,2"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		refs, err := ParseOpBody(body)
		if err == nil {
			for _, r := range refs {
				if r < 0 {
					t.Fatalf("negative offset %d from %q", r, body)
				}
			}
		}
	})
}

// FuzzHalfRecord: a hostile record in the half queue (or named by an
// END_TRANSACTION) is described, rebuilt and encoded for a check-back
// without panicking.
func FuzzHalfRecord(f *testing.F) {
	m := &message.Inner{Topic: "T", QueueID: 1, Body: []byte("b"), StoreHost: testHost, BornHost: testHost,
		Properties: propsOf("TRAN_MSG", "true", "PGROUP", "pg", "UNIQ_KEY", "U")}
	PrepareHalf(m)
	n, _ := m.RecordSize()
	rec := make([]byte, n)
	if _, err := message.EncodeRecord(rec, m); err != nil {
		f.Fatal(err)
	}
	f.Add(rec)
	f.Add(propsOf("REAL_TOPIC", "T", "REAL_QID", "99999999999"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := message.DecodeRecord(b); err == nil {
			_ = HalfOf(0, &r)
		}
		ext, err := message.DecodeMessageExt(b)
		if err != nil {
			ext = &message.MessageExt{RawProperties: b, Body: b}
		}
		_ = HalfOfExt(ext)
		if c, err := CommitMessage(ext, testHost); err == nil {
			_, _ = c.RecordSize()
		}
		cp := CopyMessage(ext, testHost, 1, 2)
		_, _ = CheckBody(cp, 1, 2, 3)
		_ = DiscardMessage(ext, testHost)
	})
}
