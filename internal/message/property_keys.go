package message

// Well-known property keys (Java MessageConst). Go clients use the same
// spellings.
const (
	PropertyKeys                           = "KEYS"
	PropertyTags                           = "TAGS"
	PropertyWaitStoreMsgOK                 = "WAIT"
	PropertyDelayTimeLevel                 = "DELAY"
	PropertyRetryTopic                     = "RETRY_TOPIC"
	PropertyRealTopic                      = "REAL_TOPIC"
	PropertyRealQueueID                    = "REAL_QID"
	PropertyTransactionPrepared            = "TRAN_MSG"
	PropertyProducerGroup                  = "PGROUP"
	PropertyMinOffset                      = "MIN_OFFSET"
	PropertyMaxOffset                      = "MAX_OFFSET"
	PropertyBuyerID                        = "BUYER_ID"
	PropertyOriginMessageID                = "ORIGIN_MESSAGE_ID"
	PropertyTransferFlag                   = "TRANSFER_FLAG"
	PropertyCorrectionFlag                 = "CORRECTION_FLAG"
	PropertyMQ2Flag                        = "MQ2_FLAG"
	PropertyReconsumeTime                  = "RECONSUME_TIME"
	PropertyMsgRegion                      = "MSG_REGION"
	PropertyTraceSwitch                    = "TRACE_ON"
	PropertyUniqClientMessageIDKeyIdx      = "UNIQ_KEY"
	PropertyExtendUniqInfo                 = "EXTEND_UNIQ_INFO"
	PropertyMaxReconsumeTimes              = "MAX_RECONSUME_TIMES"
	PropertyConsumeStartTimestamp          = "CONSUME_START_TIME"
	PropertyInnerNum                       = "INNER_NUM"
	PropertyInnerBase                      = "INNER_BASE"
	PropertyTransactionPreparedQueueOffset = "TRAN_PREPARED_QUEUE_OFFSET"
	PropertyTransactionCheckTimes          = "TRANSACTION_CHECK_TIMES"
	PropertyCheckImmunityTimeInSeconds     = "CHECK_IMMUNITY_TIME_IN_SECONDS"
	PropertyInstanceID                     = "INSTANCE_ID"
	PropertyCorrelationID                  = "CORRELATION_ID"
	PropertyMessageReplyToClient           = "REPLY_TO_CLIENT"
	PropertyMessageTTL                     = "TTL"
	PropertyReplyMessageArriveTime         = "ARRIVE_TIME"
	PropertyPushReplyTime                  = "PUSH_REPLY_TIME"
	PropertyCluster                        = "CLUSTER"
	PropertyMessageType                    = "MSG_TYPE"
	PropertyPopCK                          = "POP_CK"
	PropertyPopCKOffset                    = "POP_CK_OFFSET"
	PropertyFirstPopTime                   = "1ST_POP_TIME"
	PropertyShardingKey                    = "__SHARDINGKEY"
	PropertyForceDelayDeliverySeconds      = "__STARTDELIVERTIME"
	PropertyTransactionID                  = "__transactionId__"
	PropertyBornHost                       = "__BORNHOST"
	PropertyBornTimestamp                  = "BORN_TIMESTAMP"
	PropertyDLQOriginTopic                 = "DLQ_ORIGIN_TOPIC"
	PropertyDLQOriginMessageID             = "DLQ_ORIGIN_MESSAGE_ID"
	PropertyTraceContext                   = "TRACE_CONTEXT"
	PropertyDupInfo                        = "DUP_INFO"
	PropertyCRC32                          = "__CRC32#"

	PropertyTimerDeliverMS  = "TIMER_DELIVER_MS"
	PropertyTimerDelaySec   = "TIMER_DELAY_SEC"
	PropertyTimerDelayMS    = "TIMER_DELAY_MS"
	PropertyTimerOutMS      = "TIMER_OUT_MS"
	PropertyTimerEnqueueMS  = "TIMER_ENQUEUE_MS"
	PropertyTimerDequeueMS  = "TIMER_DEQUEUE_MS"
	PropertyTimerRollTimes  = "TIMER_ROLL_TIMES"
	PropertyTimerDelUniqKey = "TIMER_DEL_UNIQKEY"
	PropertyTimerDelayLevel = "TIMER_DELAY_LEVEL"

	// KeySeparator separates the tokens of the KEYS property.
	KeySeparator = " "
)

// Separators of the properties string.
const (
	NameValueSeparator byte = 0x01
	PropertySeparator  byte = 0x02
)
