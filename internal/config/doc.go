// Package config reads RocketMQ's configuration files — broker.conf,
// namesrv.conf: Java properties — and applies them to typed Options structs
// by struct tag, the way RocketMQ's MixAll.properties2Object applies one
// file to BrokerConfig, NettyServerConfig and MessageStoreConfig at once.
//
// The package owns the properties reader, the tag-driven Apply, and Dump and
// Print for "gorocket broker -p". The Options structs themselves, their
// defaults and their Validate methods belong to the components they
// configure.
//
// # File format
//
// The format is java.util.Properties.load:
//
//   - A natural line ends at LF, CR or CRLF. A line that ends in an odd
//     number of backslashes continues on the next line; the backslash, the
//     line break and the next line's leading blanks are dropped. An empty
//     next line ends the logical line.
//   - Blank lines and lines whose first non-blank character is # or ! are
//     ignored. A comment never continues, and a continuation line is never
//     a comment.
//   - The key runs from the first non-blank character to the first
//     unescaped '=', ':' or blank (space, tab, form feed). Blanks, then one
//     optional '=' or ':', then blanks, separate it from the value, which is
//     the rest of the logical line, trailing blanks included. A line with
//     only a key has an empty value; "=v" has the empty key.
//   - In keys and values \t \n \r \f are control characters, \uXXXX is a
//     UTF-16 code unit (a surrogate pair makes one character, a lone
//     surrogate becomes U+FFFD, fewer than four hex digits is an error),
//     and a backslash before any other character stands for that character.
//   - A key given twice keeps its last value. Keys are case-sensitive.
//
// Where this differs from Java, it is on purpose:
//   - Encoding: Java reads ISO-8859-1. Files are read as UTF-8 here, which
//     is what editors write today, and a file that is not valid UTF-8 is
//     read as ISO-8859-1 (Java 9's rule for property resource bundles). A
//     pure-ASCII file, which is what Java's own Properties.store writes,
//     reads the same either way.
//   - A UTF-8 byte order mark at the start is skipped; Java makes it part
//     of the first key.
//   - A file larger than MaxFileSize is refused.
//
// # Applying properties
//
// Apply sets the exported fields tagged `prop:"key"` of one or more
// pointers to structs. Untagged struct-typed fields, embedded or named, are
// walked into, so options can be composed; `prop:"-"` skips a field. A key
// may be claimed by fields of several targets, and all of them are set.
// Keys that no field claims are returned so the caller can warn about them,
// as RocketMQ ignores them.
//
// Values are trimmed of surrounding blanks and control characters (Java's
// String.trim) and converted by the field's kind:
//
//   - string: the trimmed value, as RocketMQ does.
//   - bool: "true" or "false" in any case. RocketMQ's
//     Boolean.parseBoolean reads anything else — "yes", "1", "on", "" — as
//     false without a word; here that is an error, because an operator who
//     wrote "yes" meant true.
//   - int, int8, int16, int32, int64: a decimal with an optional sign,
//     within the type's range. RocketMQ silently keeps the default when
//     Integer.parseInt fails (including on a trailing space); here it is an
//     error naming the key, the value and where it was set.
//   - float32, float64: a decimal, optionally in scientific notation.
//   - []string: the value split at the tag's separator, `prop:"key,sep=;"`
//     (default ","), each element trimmed and empty elements dropped.
//
// time.Duration and other types are refused when Apply or Dump first sees
// the struct: RocketMQ's durations are plain integers of milliseconds or
// seconds, and the field types say which.
//
// Apply checks every value before it sets any field: when it returns an
// error, which lists every bad value at once, the targets are unchanged.
package config
