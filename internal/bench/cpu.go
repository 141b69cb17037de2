package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime/metrics"
	"strconv"
	"syscall"
	"time"
)

// userHZ is the unit of the CPU times in /proc (USER_HZ, the value of
// sysconf(_SC_CLK_TCK)): 100 on every Linux architecture Go supports.
const userHZ = 100

const tick = time.Second / userHZ

// cpuSample is the CPU accounting at one moment.
type cpuSample struct {
	self    time.Duration // this process, user+system
	mallocs uint64        // this process's heap allocations so far

	server   time.Duration // the server process, user+system
	serverOK bool

	machine   time.Duration // every CPU's busy time (not idle, iowait or steal)
	machineOK bool
}

var allocsMetric = []metrics.Sample{{Name: "/gc/heap/allocs:objects"}}

// sampleCPU reads the CPU accounting; serverPID 0 skips the server.
func sampleCPU(serverPID int) cpuSample {
	var s cpuSample
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	m := make([]metrics.Sample, len(allocsMetric))
	copy(m, allocsMetric)
	metrics.Read(m)
	if m[0].Value.Kind() == metrics.KindUint64 {
		s.mallocs = m[0].Value.Uint64()
	}
	if serverPID > 0 {
		if d, err := ProcessCPU(serverPID); err == nil {
			s.server, s.serverOK = d, true
		}
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		if d, err := parseMachineBusy(b); err == nil {
			s.machine, s.machineOK = d, true
		}
	}
	return s
}

// ProcessCPU returns the user+system CPU time that process pid (all its
// threads) has used, from /proc/PID/stat.
func ProcessCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return parseProcStat(b)
}

// parseProcStat reads utime and stime (fields 14 and 15) of a
// /proc/PID/stat line. The command name (field 2) is in parentheses and
// may hold spaces and parentheses itself, so fields are counted from the
// last ')'.
func parseProcStat(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("bench: /proc/PID/stat: no command name")
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("bench: /proc/PID/stat: %d fields", len(f)+2)
	}
	var ticks int64
	for _, field := range f[11:13] {
		v, err := strconv.ParseInt(string(field), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench: /proc/PID/stat: %w", err)
		}
		ticks += v
	}
	return time.Duration(ticks) * tick, nil
}

// parseMachineBusy reads the busy time of all CPUs from /proc/stat's first
// line: user, nice, system, irq and softirq (guest time is inside user).
func parseMachineBusy(b []byte) (time.Duration, error) {
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	f := bytes.Fields(line)
	if len(f) < 8 || string(f[0]) != "cpu" {
		return 0, errors.New("bench: /proc/stat: no cpu line")
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7} { // user nice system [idle iowait] irq softirq
		v, err := strconv.ParseInt(string(f[i]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench: /proc/stat: %w", err)
		}
		ticks += v
	}
	return time.Duration(ticks) * tick, nil
}

// ProcessRSS returns the resident set size of process pid (VmRSS in
// /proc/PID/status), in bytes.
func ProcessRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	return parseVmRSS(b)
}

func parseVmRSS(b []byte) (int64, error) {
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("bench: VmRSS line %q", bytes.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench: VmRSS: %w", err)
		}
		return kb << 10, nil
	}
	return 0, errors.New("bench: no VmRSS in /proc/PID/status")
}
