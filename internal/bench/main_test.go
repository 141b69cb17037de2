package bench

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if runTestServerIfChild() {
		return
	}
	goleak.VerifyTestMain(m)
}
