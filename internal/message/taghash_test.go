package message

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTagsHashCodeMatchesJava(t *testing.T) {
	cases := map[string]int64{
		"":      0,
		"TagA":  2598919, // codeSet the Go client sends for TagA
		"TagC":  2598921,
		"中":     20013,
		"😀":     1772899, // surrogate pair D83D DE00
		"hello": 99162322,
		// Overflows int32: "polygenelubricants".hashCode() == Integer.MIN_VALUE.
		"polygenelubricants": -2147483648,
	}
	for in, want := range cases {
		require.Equal(t, want, TagsHashCode(in), in)
		require.Equal(t, want, TagsHashCodeBytes([]byte(in)), in)
	}
	require.Equal(t, int32(99162322), JavaHashCode("hello"))
}
