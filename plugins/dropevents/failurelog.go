package dropevents

import (
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// logInterval is the shortest time between two failure warnings.
const logInterval = 10 * time.Second

// failureLog writes at most one warning per interval, with the number of
// failures it stands for, so that a stream of bad events cannot flood the
// log. It is lock-free: workers only contend when a line is due.
type failureLog struct {
	log  *logrus.Entry
	msg  string
	now  func() time.Time
	n    atomic.Int64 // failures not yet reported
	next atomic.Int64 // unix nanoseconds before which nothing is written
}

func newFailureLog(log *logrus.Entry, msg string) *failureLog {
	return &failureLog{log: log, msg: msg, now: time.Now}
}

// record counts a failure and writes a line if one is due.
func (l *failureLog) record(err error) {
	l.n.Add(1)
	now := l.now().UnixNano()
	next := l.next.Load()
	if now < next || !l.next.CompareAndSwap(next, now+int64(logInterval)) {
		return
	}
	l.write(err)
}

// flush writes the failures not reported yet (at shutdown).
func (l *failureLog) flush() {
	if l.n.Load() > 0 {
		l.write(nil)
	}
}

func (l *failureLog) write(err error) {
	n := l.n.Swap(0)
	if n == 0 {
		return
	}
	e := l.log.WithField("failed_events", n)
	if err != nil {
		e = e.WithError(err)
	}
	e.Warn(l.msg)
}
