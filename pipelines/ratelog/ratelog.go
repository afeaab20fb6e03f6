// Package ratelog writes warnings about bad events at most once per interval,
// with the number of events each line stands for, so a stream of bad input
// cannot flood the log.
package ratelog

import (
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// Interval is the shortest time between two failure warnings.
const Interval = 10 * time.Second

// Logger writes at most one warning per interval, with the number of
// failures it stands for, so that a stream of bad events cannot flood the
// log. It is lock-free: workers only contend when a line is due.
type Logger struct {
	every time.Duration
	log   *logrus.Entry
	msg   string
	// Now is the clock (tests replace it).
	Now  func() time.Time
	n    atomic.Int64 // failures not yet reported
	next atomic.Int64 // unix nanoseconds before which nothing is written
}

// New returns a logger writing msg at warning level at most once per Interval.
func New(log *logrus.Entry, msg string) *Logger {
	return &Logger{log: log, msg: msg, Now: time.Now, every: Interval}
}

// Record counts a failure and writes a line if one is due.
func (l *Logger) Record(err error) {
	l.n.Add(1)
	now := l.Now().UnixNano()
	next := l.next.Load()
	if now < next || !l.next.CompareAndSwap(next, now+int64(l.every)) {
		return
	}
	l.write(err)
}

// Flush writes the failures not reported yet (at shutdown).
func (l *Logger) Flush() {
	if l.n.Load() > 0 {
		l.write(nil)
	}
}

func (l *Logger) write(err error) {
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
