package namesrv

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// rocketmq-client-go keeps a package-level go-cache whose janitor
		// goroutine starts at init and never stops; not ours to close.
		goleak.IgnoreTopFunction("github.com/patrickmn/go-cache.(*janitor).Run"),
	)
}
