package oteltraceraw

// fifo is a queue over a slice: pushes append, pops advance the head, and
// the slice is compacted once the popped prefix is half of it.
type fifo[T any] struct {
	buf  []T
	head int
}

func (q *fifo[T]) len() int { return len(q.buf) - q.head }

func (q *fifo[T]) push(v T) { q.buf = append(q.buf, v) }

// front returns the oldest element; the queue must not be empty.
func (q *fifo[T]) front() T { return q.buf[q.head] }

func (q *fifo[T]) pop() {
	var zero T
	q.buf[q.head] = zero
	q.head++
	switch {
	case q.head == len(q.buf):
		q.buf, q.head = q.buf[:0], 0
		if cap(q.buf) > 4096 {
			q.buf = nil // let a burst's memory go
		}
	case q.head >= 1024 && 2*q.head >= len(q.buf):
		n := copy(q.buf, q.buf[q.head:])
		clear(q.buf[n:])
		q.buf, q.head = q.buf[:n], 0
	}
}

// filter keeps the elements for which keep is true, in order, and shrinks
// the backing array when most of it is unused.
func (q *fifo[T]) filter(keep func(T) bool) {
	n := 0
	for _, v := range q.buf[q.head:] {
		if keep(v) {
			q.buf[n] = v
			n++
		}
	}
	clear(q.buf[n:])
	q.buf, q.head = q.buf[:n], 0
	if cap(q.buf) > 4*n+64 {
		q.buf = append(make([]T, 0, 2*n+16), q.buf...)
	}
}
