package message

import (
	"errors"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/stretchr/testify/require"
)

// The official Go client's batch encoding decodes entry by entry.
func TestDecodeBatchFromOfficialClient(t *testing.T) {
	var body []byte
	for i, s := range []string{"first", "", "third body"} {
		m := primitive.NewMessage("T", []byte(s))
		m.Flag = int32(i)
		if i != 1 {
			m.WithTag("Tag" + s)
		}
		body = append(body, m.Marshal()...)
	}
	var got []BatchEntry
	err := DecodeBatch(body, func(e BatchEntry) error {
		got = append(got, e)
		return nil
	})
	require.NoError(t, err)
	require.Len(t, got, 3)
	require.Equal(t, "first", string(got[0].Body))
	require.Equal(t, "Tagfirst", PropertyString(got[0].Properties, PropertyTags))
	require.Empty(t, got[1].Body)
	require.Empty(t, got[1].Properties)
	require.Equal(t, int32(2), got[2].Flag)
	require.Equal(t, "third body", string(got[2].Body))
}

func TestBatchRoundTripAndErrors(t *testing.T) {
	var body []byte
	var err error
	for _, e := range []BatchEntry{{Flag: 1, Body: []byte("a")}, {Flag: 2, Properties: []byte("k\x01v\x02")}} {
		body, err = AppendBatchEntry(body, e)
		require.NoError(t, err)
	}
	n := 0
	require.NoError(t, DecodeBatch(body, func(BatchEntry) error { n++; return nil }))
	require.Equal(t, 2, n)

	stop := errors.New("stop")
	require.ErrorIs(t, DecodeBatch(body, func(BatchEntry) error { return stop }), stop)

	require.ErrorIs(t, DecodeBatch(nil, func(BatchEntry) error { return nil }), ErrMalformed)
	require.ErrorIs(t, DecodeBatch(body[:len(body)-1], func(BatchEntry) error { return nil }), ErrMalformed)
	bad := append([]byte(nil), body...)
	bad[3]++ // TOTALSIZE no longer matches the fields
	require.ErrorIs(t, DecodeBatch(bad, func(BatchEntry) error { return nil }), ErrMalformed)
	_, err = AppendBatchEntry(nil, BatchEntry{Properties: make([]byte, MaxPropertiesLength+1)})
	require.ErrorIs(t, err, ErrPropertiesTooLong)
}

func FuzzDecodeBatch(f *testing.F) {
	seed, _ := AppendBatchEntry(nil, BatchEntry{Flag: 1, Body: []byte("body"), Properties: []byte("TAGS\x01a\x02")})
	seed, _ = AppendBatchEntry(seed, BatchEntry{})
	f.Add(seed)
	f.Add([]byte{0, 0, 0, 22, 0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, body []byte) {
		var entries []BatchEntry
		err := DecodeBatch(body, func(e BatchEntry) error {
			entries = append(entries, e)
			return nil
		})
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		// A body that decodes re-encodes to itself.
		var again []byte
		for _, e := range entries {
			again, err = AppendBatchEntry(again, BatchEntry{Flag: e.Flag, Body: e.Body, Properties: e.Properties})
			if err != nil {
				t.Fatal(err)
			}
		}
		// MAGICCODE and BODYCRC are ignored on decode; compare the rest.
		if len(again) != len(body) {
			t.Fatalf("re-encoded %d bytes, had %d", len(again), len(body))
		}
	})
}
