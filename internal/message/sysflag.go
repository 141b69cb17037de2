package message

// SysFlag bits (Java MessageSysFlag).
const (
	// SysFlagCompressed marks a compressed body (zlib unless bits 8-10 say
	// otherwise, see CompressionType).
	SysFlagCompressed int32 = 0x1
	// SysFlagMultiTags marks a message whose topic allows several tags.
	SysFlagMultiTags int32 = 0x2

	// TransactionNotType, TransactionPreparedType, TransactionCommitType and
	// TransactionRollbackType are the values of the two transaction bits.
	TransactionNotType      int32 = 0x0
	TransactionPreparedType int32 = 0x1 << 2
	TransactionCommitType   int32 = 0x2 << 2
	TransactionRollbackType int32 = 0x3 << 2

	// SysFlagBornHostV6 says BORNHOST holds an IPv6 address (20 bytes).
	SysFlagBornHostV6 int32 = 0x1 << 4
	// SysFlagStoreHostV6 says STOREHOST holds an IPv6 address (20 bytes).
	SysFlagStoreHostV6 int32 = 0x1 << 5
	// SysFlagNeedUnwrap and SysFlagInnerBatch are 5.x flags, kept verbatim.
	SysFlagNeedUnwrap  int32 = 0x1 << 6
	SysFlagInnerBatch  int32 = 0x1 << 7
	compressionTypeMsk int32 = 0x7 << 8
)

// CompressionType is the 5.x compression algorithm kept in sysFlag bits 8-10.
type CompressionType int32

// Compression types. 0 means zlib as well (clients before 5.x).
const (
	CompressionLZ4  CompressionType = 1
	CompressionZSTD CompressionType = 2
	CompressionZLIB CompressionType = 3
)

// TransactionType returns the transaction bits of sysFlag: one of
// TransactionNotType, TransactionPreparedType, TransactionCommitType,
// TransactionRollbackType.
func TransactionType(sysFlag int32) int32 { return sysFlag & TransactionRollbackType }

// ResetTransactionType returns sysFlag with its transaction bits replaced by t.
func ResetTransactionType(sysFlag, t int32) int32 {
	return sysFlag&^TransactionRollbackType | t&TransactionRollbackType
}

// IsTransactionHalf reports whether a record of this sysFlag is a PREPARED
// or ROLLBACK record: such records get queue offset 0 and never reach a
// ConsumeQueue.
func IsTransactionHalf(sysFlag int32) bool {
	t := TransactionType(sysFlag)
	return t == TransactionPreparedType || t == TransactionRollbackType
}

// GetCompressionType returns the compression algorithm of a compressed
// body (zlib when the bits are 0).
func GetCompressionType(sysFlag int32) CompressionType {
	t := CompressionType((sysFlag & compressionTypeMsk) >> 8)
	if t == 0 {
		return CompressionZLIB
	}
	return t
}
