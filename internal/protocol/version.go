package protocol

import "strconv"

// MQVersion is an ordinal of Java's MQVersion.Version enum. Every command
// carries one in its version field: clients send theirs (the Go client
// always sends V4_5_2), servers send theirs. The enum lists a SNAPSHOT and a
// release for every version, so ordinals are regular; String derives the
// name from the ordinal.
//
// The constant names keep RocketMQ's spelling (V4_9_4) so that they can be
// grepped against Java sources.
type MQVersion int32

// MQ versions that change behaviour somewhere in the protocol.
const (
	V3_0_7 MQVersion = 29  // RESET_CONSUMER_CLIENT_OFFSET is sent to clients at or above this
	V4_1_0 MQVersion = 233 // the Go client's only version threshold
	V4_5_2 MQVersion = 317 // what rocketmq-client-go v2 sends
	V4_9_4 MQVersion = 401 // clients at or above this get standard JSON routes
	V5_0_0 MQVersion = 413
	V5_3_3 MQVersion = 479 // Java 5.3.3, MQVersion.CURRENT_VERSION of the reference broker

	// CurrentVersion is the version gorocket servers and clients put in
	// the commands they send: the reference broker's, so that clients take
	// the same paths against gorocket as against Java.
	CurrentVersion = V5_3_3
)

var versionNames = buildVersionNames()

func buildVersionNames() []string {
	names := []string{
		"V3_0_0_SNAPSHOT", "V3_0_0_ALPHA1", "V3_0_0_BETA1", "V3_0_0_BETA2",
		"V3_0_0_BETA3", "V3_0_0_BETA4", "V3_0_0_BETA5", "V3_0_0_BETA6_SNAPSHOT",
		"V3_0_0_BETA6", "V3_0_0_BETA7_SNAPSHOT", "V3_0_0_BETA7", "V3_0_0_BETA8_SNAPSHOT",
		"V3_0_0_BETA8", "V3_0_0_BETA9_SNAPSHOT", "V3_0_0_BETA9", "V3_0_0_FINAL",
	}
	add := func(major, minor, patch int) {
		v := "V" + strconv.Itoa(major) + "_" + strconv.Itoa(minor) + "_" + strconv.Itoa(patch)
		names = append(names, v+"_SNAPSHOT", v)
	}
	for p := 1; p <= 15; p++ {
		add(3, 0, p)
	}
	for minor := 1; minor <= 9; minor++ {
		first := 1
		if minor <= 2 {
			first = 0
		}
		for p := first; p <= 9; p++ {
			add(3, minor, p)
		}
	}
	for major := 4; major <= 5; major++ {
		for minor := 0; minor <= 9; minor++ {
			for p := 0; p <= 9; p++ {
				add(major, minor, p)
			}
		}
	}
	return append(names, "HIGHER_VERSION")
}

// String returns the Java enum name. Like MQVersion.getVersionDesc, an
// ordinal past the end names the last entry.
func (v MQVersion) String() string {
	switch {
	case v < 0:
		return "MQVersion(" + strconv.Itoa(int(v)) + ")"
	case int(v) >= len(versionNames):
		return versionNames[len(versionNames)-1]
	}
	return versionNames[v]
}
