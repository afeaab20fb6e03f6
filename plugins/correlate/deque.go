package correlate

// deque is a FIFO ring that grows by doubling and shrinks again after a
// spike, so its memory follows what it holds.
type deque[T any] struct {
	buf  []T // len is 0 or a power of two
	head int
	n    int
}

func (d *deque[T]) len() int { return d.n }

func (d *deque[T]) push(x T) {
	if d.n == len(d.buf) {
		d.resize(max(8, 2*len(d.buf)))
	}
	d.buf[(d.head+d.n)&(len(d.buf)-1)] = x
	d.n++
}

// front returns the oldest element; the deque must not be empty.
func (d *deque[T]) front() T { return d.buf[d.head] }

// pop removes and returns the oldest element; the deque must not be empty.
func (d *deque[T]) pop() T {
	var zero T
	x := d.buf[d.head]
	d.buf[d.head] = zero
	d.head = (d.head + 1) & (len(d.buf) - 1)
	d.n--
	if len(d.buf) > 64 && d.n < len(d.buf)/4 {
		d.resize(len(d.buf) / 2)
	}
	return x
}

func (d *deque[T]) resize(size int) {
	nb := make([]T, size)
	if d.n > 0 {
		k := copy(nb, d.buf[d.head:min(d.head+d.n, len(d.buf))])
		copy(nb[k:], d.buf[:d.n-k])
	}
	d.buf, d.head = nb, 0
}
