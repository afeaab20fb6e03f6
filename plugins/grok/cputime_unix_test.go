//go:build unix

package grok

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time the process has used (user and system), so that
// a benchmark can report throughput per CPU second even on a busy machine,
// where wall time includes waiting for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
