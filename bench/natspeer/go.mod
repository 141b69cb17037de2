module github.com/gorocket/gorocket/bench/natspeer

go 1.26

require (
	github.com/HdrHistogram/hdrhistogram-go v1.1.2
	github.com/nats-io/nats.go v1.37.0
)

require (
	github.com/klauspost/compress v1.17.2 // indirect
	github.com/nats-io/nkeys v0.4.7 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	golang.org/x/crypto v0.18.0 // indirect
	golang.org/x/sys v0.16.0 // indirect
)
