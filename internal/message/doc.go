// Package message owns Apache RocketMQ's message encodings: the stored
// record (one commit-log entry, also the unit a PULL_MESSAGE body is made
// of), the properties string, the SEND_BATCH_MESSAGE body, message ids,
// sysFlag bits and the tag hash code.
//
// Everything here is byte-for-byte what Java RocketMQ writes, because pull
// responses hand stored records to the official clients unchanged and
// because the store files stay readable by Java tools.
//
// # Stored record (commit log; PULL_MESSAGE body is a concatenation)
//
// All integers are big-endian. Hosts are 8 bytes (IPv4 address + int32
// port) unless the sysFlag bit says IPv6 (16-byte address + int32 port).
//
//	off  size  field
//	  0     4  TOTALSIZE                 whole record, this field included
//	  4     4  MAGICCODE                 MagicV1 0xDAA320A7 | MagicV2 0xDAA320AB
//	  8     4  BODYCRC                   crc32 IEEE of BODY & 0x7FFFFFFF
//	 12     4  QUEUEID
//	 16     4  FLAG                      user flag
//	 20     8  QUEUEOFFSET               logical ConsumeQueue index (0 for
//	                                     PREPARED and ROLLBACK records)
//	 28     8  PHYSICALOFFSET            commit-log offset of this record
//	 36     4  SYSFLAG                   see the SysFlag constants
//	 40     8  BORNTIMESTAMP             ms
//	 48  8|20  BORNHOST                  IPv6 when SysFlag&BornHostV6
//	  .     8  STORETIMESTAMP            ms
//	  .  8|20  STOREHOST                 IPv6 when SysFlag&StoreHostV6
//	  .     4  RECONSUMETIMES
//	  .     8  PREPAREDTRANSACTIONOFFSET
//	  .     4  BODYLEN, then BODY
//	  .   1|2  TOPICLEN (1 byte for MagicV1, 2 for MagicV2), then TOPIC
//	  .     2  PROPLEN (unsigned, <= 32767), then PROPERTIES
//
// A V1 record with IPv4 hosts is 91 bytes plus body, topic and properties.
// V2 exists only for topics longer than 127 bytes; the official Go client
// cannot read it (it always reads a 1-byte topic length), so the store only
// writes V2 when told to.
//
// The end of a commit-log segment that cannot hold the next record is
// closed by a blank marker: int32 remaining-bytes, int32 MagicBlank
// (0xCBD43194). The marker is not a record; [DecodeRecord] reports it with
// [ErrBlank].
//
// # Properties string
//
// Pairs of key 0x01 value 0x02, the separator repeated after every pair.
// Decoding follows Java's string2messageProperties: a pair is kept only if
// its key and its value are non-empty; the value runs from the first 0x01
// to the next 0x02 (it may itself contain 0x01); a later duplicate key
// wins. [PropertyValue] looks one key up with the same rules without
// allocating; it is what the hot paths use.
//
// # Batch body (SEND_BATCH_MESSAGE)
//
// A concatenation of entries, each:
//
//	4  TOTALSIZE (this entry, this field included) = 22 + BODYLEN + PROPLEN
//	4  MAGICCODE (0, ignored)
//	4  BODYCRC   (0, ignored)
//	4  FLAG
//	4  BODYLEN, then BODY
//	2  PROPLEN, then PROPERTIES
//
// # Message ids
//
// The offset message id is the upper-case hex of store IP (4 or 16 bytes),
// store port (int32) and commit-log offset (int64): 32 characters for IPv4,
// 56 for IPv6. The unique key (UNIQ_KEY property) is Java's
// MessageClientIDSetter format: upper-case hex of IPv4 (4), pid (low 16
// bits), a 4-byte instance id, int32 milliseconds since the start of the
// current month (local time) and a 16-bit counter: 32 characters.
//
// # Tag hash code
//
// The ConsumeQueue tagsCode of a message is Java's String.hashCode of its
// TAGS property: h = 31*h + c over the UTF-16 code units, in int32
// arithmetic, widened to int64; 0 when there is no tag.
//
// Nothing in this package panics on hostile input: every length read from
// bytes is bounds-checked and decoders return errors wrapping
// [ErrMalformed].
package message
