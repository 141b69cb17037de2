package protocol

//go:generate go run gen_codes.go

// RequestCode is the code of a request command (RequestCode.java). The
// constants are generated from codes.txt, the one table of codes.
type RequestCode int32

// ResponseCode is the code of a response command (ResponseCode.java and
// RemotingSysResponseCode.java). The constants are generated from codes.txt.
type ResponseCode int32
