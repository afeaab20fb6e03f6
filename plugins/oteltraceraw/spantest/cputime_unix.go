//go:build unix

package spantest

import (
	"syscall"
	"time"
)

// CPUTime is the CPU time (user and system) the process has used so far:
// benchmarks divide it by their work, which stays meaningful on a busy
// machine where wall-clock time does not.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
