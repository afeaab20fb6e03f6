package event

import (
	"hash/maphash"
	"sync/atomic"
)

// The encoder writes map keys in sorted order. Maps of up to 16 keys are
// sorted on the stack; larger ones (every Trace Analytics span document,
// wide log records) would be sorted on every encode, although documents
// built by the same code share one key set. keyOrders remembers the sorted
// key lists of recently seen large key sets, found by an order-independent
// signature of the keys: on a hit the encoder looks each key up in sorted
// order instead of sorting. A hit is verified exactly (same number of keys,
// and every remembered key present), so a signature collision only costs a
// fallback to sorting.
//
// A source that builds many documents with the same field names can also
// give them one OrderHint: the first encode records its order there and
// the others start from it, skipping the signature (still verified).
//
// A key set is remembered the second time its signature is seen in a slot,
// so one-off key sets do not churn the cache. Entries are immutable once
// published; slots are replaced atomically, so concurrent encoders need no
// lock.

const (
	keyOrderSlots   = 64  // direct-mapped slots
	maxKeyOrderKeys = 512 // larger maps are always sorted
)

type keyOrder struct {
	sig  uint64
	keys []string // sorted
	// names holds every key already written as a JSON member name with
	// its separators (`"a":` then `,"b":` ...); key i is
	// names[ends[i-1]:ends[i]].
	names []byte
	ends  []int
}

var (
	keyOrderSeed = maphash.MakeSeed()
	keyOrderSalt = maphash.Comparable(keyOrderSeed, 0)
	keyOrders    [keyOrderSlots]atomic.Pointer[keyOrder]
	keyOrderSeen [keyOrderSlots]atomic.Uint64
)

// keySignature returns an order-independent signature of m's key set.
// It only has to spread key sets over the slots and tell apart the ones
// that share a slot (a hit is verified), so it hashes a key's length and
// its first and last eight bytes, not all of it.
func keySignature(m map[string]any) uint64 {
	sig := uint64(len(m))
	for k := range m {
		sig += keyHash(k)
	}
	return sig
}

func keyHash(k string) uint64 {
	if len(k) < 8 {
		return maphash.String(keyOrderSeed, k)
	}
	head := uint64(k[0]) | uint64(k[1])<<8 | uint64(k[2])<<16 | uint64(k[3])<<24 |
		uint64(k[4])<<32 | uint64(k[5])<<40 | uint64(k[6])<<48 | uint64(k[7])<<56
	t := k[len(k)-8:]
	tail := uint64(t[0]) | uint64(t[1])<<8 | uint64(t[2])<<16 | uint64(t[3])<<24 |
		uint64(t[4])<<32 | uint64(t[5])<<40 | uint64(t[6])<<48 | uint64(t[7])<<56
	h := (head^keyOrderSalt)*0x9e3779b97f4a7c15 + (tail^uint64(len(k)))*0xc2b2ae3d27d4eb4f
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	return h ^ h>>32
}

func keyOrderSlot(sig uint64) int { return int((sig * 0x9e3779b97f4a7c15) >> 58) }

// lookupKeyOrder returns the remembered order for signature sig and n
// keys, or nil.
func lookupKeyOrder(sig uint64, n int) *keyOrder {
	if ko := keyOrders[keyOrderSlot(sig)].Load(); ko != nil && ko.sig == sig && len(ko.keys) == n {
		return ko
	}
	return nil
}

// rememberKeyOrder records the sorted members' keys under sig once sig has
// been seen before in its slot.
func rememberKeyOrder(sig uint64, ms []member) {
	slot := keyOrderSlot(sig)
	if keyOrderSeen[slot].Swap(sig) != sig {
		return
	}
	ko := &keyOrder{sig: sig, keys: make([]string, len(ms)), ends: make([]int, len(ms))}
	for i := range ms {
		ko.keys[i] = ms[i].k
		if i > 0 {
			ko.names = append(ko.names, ',')
		}
		ko.names = appendString(ko.names, ms[i].k)
		ko.names = append(ko.names, ':')
		ko.ends[i] = len(ko.names)
	}
	keyOrders[slot].Store(ko)
}

// objectKnownOrder writes m (enter already called) in the remembered key
// order. It reports false, with dst and the encoder as they were, when m's
// key set is not the remembered one.
func (e *encoder) objectKnownOrder(dst []byte, m map[string]any, ko *keyOrder) ([]byte, bool) {
	start, depth, tooDeep := len(dst), e.depth, e.tooDeep
	dst = append(dst, '{')
	prev := 0
	for i, k := range ko.keys {
		v, ok := m[k]
		if !ok {
			e.depth, e.tooDeep = depth, tooDeep
			return dst[:start], false
		}
		dst = append(dst, ko.names[prev:ko.ends[i]]...)
		prev = ko.ends[i]
		dst = e.value(dst, v)
	}
	return append(dst, '}'), true
}

// OrderHint is shared by events whose fields a source expects to have the
// same names (spans of one service with the same attribute keys). It only
// saves work: a hint that turns out wrong costs a fallback, never a wrong
// encoding. The zero value is ready to use.
type OrderHint struct{ ko atomic.Pointer[keyOrder] }

// SetOrderHint attaches h (nil for none) to the event.
func (e *Event) SetOrderHint(h *OrderHint) { e.order = h }

// OrderHint returns the event's key-order hint, or nil.
func (e *Event) OrderHint() *OrderHint { return e.order }

// hintedObject encodes a large top-level map, trying the hint's order first
// and recording the order used in the hint.
func (e *encoder) hintedObject(dst []byte, m map[string]any, h *OrderHint) []byte {
	if !e.enter() {
		return append(dst, "null"...)
	}
	if ko := h.ko.Load(); ko != nil && len(ko.keys) == len(m) {
		if out, ok := e.objectKnownOrder(dst, m, ko); ok {
			e.depth--
			return out
		}
	}
	out, ko := e.objectOrdered(dst, m)
	if ko != nil {
		h.ko.Store(ko)
	}
	return out
}
