package message

import "unicode/utf8"

// TagsHashCode returns the ConsumeQueue tagsCode of a TAGS value: Java's
// String.hashCode over its UTF-16 code units (int32 arithmetic), widened to
// int64. An empty tag gives 0. Invalid UTF-8 counts as U+FFFD per bad
// byte, which is what Java's decoder yields for most malformed input.
func TagsHashCode(tags string) int64 {
	var h int32
	for i := 0; i < len(tags); {
		c := tags[i]
		if c < utf8.RuneSelf {
			h = 31*h + int32(c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(tags[i:])
		i += n
		h = hashRune(h, r)
	}
	return int64(h)
}

// TagsHashCodeBytes is TagsHashCode for a byte slice; it does not allocate.
func TagsHashCodeBytes(tags []byte) int64 {
	var h int32
	for i := 0; i < len(tags); {
		c := tags[i]
		if c < utf8.RuneSelf {
			h = 31*h + int32(c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(tags[i:])
		i += n
		h = hashRune(h, r)
	}
	return int64(h)
}

func hashRune(h int32, r rune) int32 {
	if r >= 0x10000 {
		// Supplementary plane: two UTF-16 code units.
		r -= 0x10000
		h = 31*h + int32(0xD800+(r>>10))
		return 31*h + int32(0xDC00+(r&0x3FF))
	}
	return 31*h + int32(r)
}

// JavaHashCode returns Java's String.hashCode of s as an int32; the
// IndexFile hashes keys with it.
func JavaHashCode(s string) int32 { return int32(TagsHashCode(s)) }

// JavaHashCodeBytes is JavaHashCode for a byte slice.
func JavaHashCodeBytes(b []byte) int32 { return int32(TagsHashCodeBytes(b)) }
