package otlp

import (
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// wireCheck answers, without decoding, whether google.golang.org/protobuf
// would accept a protobuf encoding unchanged, so that the pdata fast path
// (traces_pdata.go) keeps the reference decoder's strictness: pdata skips
// malformed unknown groups and does not validate UTF-8, which
// google.golang.org/protobuf (like protobuf-java in Data Prepper) rejects.
//
// It walks the wire format with protowire, guided by the message
// descriptors of the OpenTelemetry protocol package: tags, lengths and
// unknown fields (groups included) must be well formed and every string
// field valid UTF-8. It is conservative: a message nested deeper than
// wireMaxDepth, or a singular message field that occurs twice (merged by
// google.golang.org/protobuf, replaced by pdata), also answers false, which
// only sends the request to the reference path.
type wireCheck struct {
	fields []wireField // by field number
	// refuse is a field number that sends the request to the reference path
	// (0: none): ResourceSpans' deprecated instrumentation_library_spans
	// (1000), which pdata turns into scope spans and
	// google.golang.org/protobuf ignores.
	refuse protowire.Number
}

type wireField struct {
	kind   uint8 // wireOther, wireString, wireMessage
	single bool  // a singular message field
	msg    *wireCheck
}

const (
	wireOther uint8 = iota
	wireString
	wireMessage
)

// wireMaxDepth bounds the message nesting the check follows.
const wireMaxDepth = 100

// newWireCheck builds the check for a message type.
func newWireCheck(md protoreflect.MessageDescriptor) *wireCheck {
	return buildWireCheck(md, map[protoreflect.FullName]*wireCheck{})
}

func buildWireCheck(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]*wireCheck) *wireCheck {
	if w := seen[md.FullName()]; w != nil {
		return w // recursive types (AnyValue in ArrayValue)
	}
	w := &wireCheck{}
	if md.FullName() == "opentelemetry.proto.trace.v1.ResourceSpans" {
		w.refuse = 1000
	}
	seen[md.FullName()] = w
	fds := md.Fields()
	for i := 0; i < fds.Len(); i++ {
		fd := fds.Get(i)
		var f wireField
		switch fd.Kind() {
		case protoreflect.StringKind:
			f.kind = wireString
		case protoreflect.MessageKind:
			f = wireField{kind: wireMessage, single: !fd.IsList() && !fd.IsMap(), msg: buildWireCheck(fd.Message(), seen)}
		default:
			continue
		}
		n := int(fd.Number())
		for len(w.fields) <= n {
			w.fields = append(w.fields, wireField{})
		}
		w.fields[n] = f
	}
	return w
}

// valid reports whether b is an encoding of the message that
// google.golang.org/protobuf accepts and pdata decodes the same way.
func (w *wireCheck) valid(b []byte) bool { return w.check(b, 0) }

func (w *wireCheck) check(b []byte, depth int) bool {
	if depth > wireMaxDepth {
		return false
	}
	var once uint64 // singular message fields seen (numbers < 64)
	for len(b) > 0 {
		var num protowire.Number
		var typ protowire.Type
		if c := b[0]; c < 0x80 && c >= 8 { // one-byte tag (fields 1 to 15)
			num, typ = protowire.Number(c>>3), protowire.Type(c&7)
			b = b[1:]
		} else {
			var n int
			num, typ, n = protowire.ConsumeTag(b)
			if n < 0 || num > protowire.MaxValidNumber {
				return false
			}
			b = b[n:]
		}
		if num == w.refuse {
			return false
		}
		var f wireField
		if int(num) < len(w.fields) {
			f = w.fields[num]
		}
		if typ == protowire.BytesType && f.kind != wireOther {
			var v []byte
			if len(b) > 0 && b[0] < 0x80 && int(b[0]) < len(b) { // one-byte length
				v, b = b[1:1+b[0]], b[1+b[0]:]
			} else {
				var n int
				v, n = protowire.ConsumeBytes(b)
				if n < 0 {
					return false
				}
				b = b[n:]
			}
			if f.kind == wireString {
				if !utf8.Valid(v) {
					return false
				}
				continue
			}
			if f.single {
				if num >= 64 || once&(1<<num) != 0 {
					return false
				}
				once |= 1 << num
			}
			if !f.msg.check(v, depth+1) {
				return false
			}
			continue
		}
		// Unknown fields, scalars, and known fields with another wire type
		// (unknown to google.golang.org/protobuf; pdata refuses them).
		n := protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return false
		}
		b = b[n:]
	}
	return true
}
