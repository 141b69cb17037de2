package bench

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseProcStat(t *testing.T) {
	// The command name may hold spaces and parentheses.
	line := "4242 (gorocket (x) y) S 1 4242 4242 0 -1 4194560 5000 0 0 0 123 45 0 0 20 0 12 0 100 1000000 2000 18446744073709551615\n"
	d, err := parseProcStat([]byte(line))
	require.NoError(t, err)
	require.Equal(t, 168*10*time.Millisecond, d) // utime 123 + stime 45 ticks

	_, err = parseProcStat([]byte("4242 (short) S 1 2"))
	require.Error(t, err)
	_, err = parseProcStat([]byte("no parenthesis"))
	require.Error(t, err)
}

func TestParseMachineBusy(t *testing.T) {
	stat := "cpu  100 5 50 9000 30 2 3 7 0 0\ncpu0 50 2 25 4500 15 1 1 3 0 0\n"
	d, err := parseMachineBusy([]byte(stat))
	require.NoError(t, err)
	require.Equal(t, 160*10*time.Millisecond, d) // user+nice+system+irq+softirq; not idle, iowait or steal

	_, err = parseMachineBusy([]byte("intr 1 2 3\n"))
	require.Error(t, err)
}

func TestParseVmRSS(t *testing.T) {
	rss, err := parseVmRSS([]byte("Name:\tgorocket\nVmPeak:\t  9000 kB\nVmRSS:\t   20480 kB\nThreads:\t7\n"))
	require.NoError(t, err)
	require.Equal(t, int64(20<<20), rss)

	_, err = parseVmRSS([]byte("Name:\tkthreadd\n"))
	require.Error(t, err)
}

func TestOwnProcessIsReadable(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	_, err := ProcessCPU(os.Getpid())
	require.NoError(t, err)
	rss, err := ProcessRSS(os.Getpid())
	require.NoError(t, err)
	require.Positive(t, rss)
	s := sampleCPU(os.Getpid())
	require.True(t, s.serverOK)
	require.True(t, s.machineOK)
	require.Positive(t, s.mallocs)
}
