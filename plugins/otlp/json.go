package otlp

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// OTLP/JSON is protobuf's JSON mapping with one exception that protojson
// does not know: trace and span IDs are hex strings, not base64
// (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding). A
// hex ID read as base64 silently decodes into wrong bytes of the wrong
// length, so UnmarshalJSON first rewrites every ID value from hex into
// base64 with a single scan that copies everything else verbatim, then lets
// protojson decode (and validate) the result. Unknown fields are ignored, as
// the specification requires of receivers.

var jsonUnmarshal = protojson.UnmarshalOptions{DiscardUnknown: true}

// UnmarshalJSON decodes an OTLP/JSON message (an export request of any
// signal) into m.
func UnmarshalJSON(data []byte, m proto.Message) error {
	fixed, bad := hexIDsToBase64(data)
	if err := jsonUnmarshal.Unmarshal(fixed, m); err != nil {
		if bad != "" {
			return fmt.Errorf("%s (%w)", bad, err)
		}
		return err
	}
	return nil
}

// notBase64 replaces an ID value that is not hex: protojson refuses it if
// the field is known, and ignores it inside an unknown field.
const notBase64 = `"!not-hex!"`

// MarshalJSON encodes a response message in OTLP/JSON.
func MarshalJSON(m proto.Message) ([]byte, error) { return protojson.Marshal(m) }

// isIDKey reports whether an object key names a trace or span ID field:
// the lowerCamelCase JSON names OTLP/JSON uses and the proto field names
// protojson also accepts (Span, Span.Link, LogRecord, Exemplar).
func isIDKey(k []byte) bool {
	switch string(k) {
	case "traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id":
		return true
	}
	return false
}

// maxScanDepth is the deepest nesting the ID scan follows; deeper input is
// passed on unchanged (protojson refuses it anyway).
const maxScanDepth = 10000

// hexIDsToBase64 returns data with the string value of every ID key
// converted from hex to base64. Input it cannot follow (unterminated
// strings, too deep) is returned as it is, for protojson to report. A value
// that is not hex is replaced by one protojson refuses, and bad describes
// the first of them.
func hexIDsToBase64(data []byte) (fixed []byte, bad string) {
	var out []byte
	last := 0
	var stackBuf [32]bool // true: object
	stack := stackBuf[:0]
	expectKey, idValue := false, false
	var idKey []byte
	for i := 0; i < len(data); {
		switch c := data[i]; c {
		case ' ', '\t', '\n', '\r', ':':
			i++
		case '{', '[':
			if len(stack) >= maxScanDepth {
				return data, ""
			}
			stack = append(stack, c == '{')
			expectKey, idValue = c == '{', false
			i++
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			expectKey, idValue = false, false
			i++
		case ',':
			expectKey = len(stack) > 0 && stack[len(stack)-1]
			idValue = false
			i++
		case '"':
			end, escaped := scanJSONString(data, i)
			if end < 0 {
				return data, ""
			}
			switch {
			case expectKey:
				expectKey = false
				idValue = !escaped && isIDKey(data[i+1:end-1])
				if idValue {
					idKey = data[i+1 : end-1]
				}
			case idValue:
				idValue = false
				raw := data[i+1 : end-1]
				if escaped {
					var s string
					if err := json.Unmarshal(data[i:end], &s); err != nil {
						return data, ""
					}
					raw = []byte(s)
				}
				var tmp [32]byte
				id, err := decodeHexID(tmp[:0], raw)
				if out == nil {
					out = make([]byte, 0, len(data)+len(notBase64))
				}
				out = append(out, data[last:i]...)
				if err != nil {
					if bad == "" {
						bad = fmt.Sprintf("invalid %s %q: OTLP/JSON trace and span IDs are hex strings", idKey, truncate(string(raw)))
					}
					out = append(out, notBase64...)
				} else {
					out = append(out, '"')
					out = base64.StdEncoding.AppendEncode(out, id)
					out = append(out, '"')
				}
				last = end
			}
			i = end
		default:
			idValue = false
			i++
		}
	}
	if out == nil {
		return data, bad
	}
	return append(out, data[last:]...), bad
}

// scanJSONString returns the index just after the string starting at
// data[start] (a '"') and whether it contains escapes; -1 if it does not
// end.
func scanJSONString(data []byte, start int) (end int, escaped bool) {
	for j := start + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped
		}
	}
	return -1, escaped
}

// decodeHexID decodes hex (either case) into dst's spare capacity when it
// fits.
func decodeHexID(dst, s []byte) ([]byte, error) {
	if len(s)%2 != 0 {
		return nil, hex.ErrLength
	}
	n := len(s) / 2
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	_, err := hex.Decode(dst, s)
	return dst, err
}
