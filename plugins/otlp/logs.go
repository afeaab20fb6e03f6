package otlp

import (
	"encoding/base64"
	"strconv"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/proto"

	"github.com/weft-agent/weft/pipelines/event"
)

// Field names of a log document, as Data Prepper's JacksonOtelLog writes
// them (traceId, spanId, serviceName, droppedAttributesCount,
// instrumentationScope and time are shared with spans).
const (
	FieldFlags          = "flags"
	FieldSeverityNumber = "severityNumber"
	FieldSeverityText   = "severityText"
	FieldBody           = "body"
	FieldObservedTime   = "observedTime"
	FieldSchemaURL      = "schemaUrl"
	FieldEventName      = "eventName"

	// LogAttributesPrefix starts the flattened log record attribute keys
	// (log.attributes.http@method), as SpanAttributesPrefix does for spans.
	LogAttributesPrefix = "log.attributes."

	// SignalLogs is the metadata signal value of log records.
	SignalLogs = "logs"
)

// logFields is the number of fixed top-level fields of a log document.
const logFields = 16

// Logs is the OTLP logs signal.
var Logs = &Signal{
	Name:        SignalLogs,
	Items:       "log records",
	HTTPPath:    "/v1/logs",
	GRPCService: collogspb.LogsService_ServiceDesc.ServiceName,
	GRPCFile:    collogspb.LogsService_ServiceDesc.Metadata.(string),
	Decode:      DecodeLogs,
	Response: func(r *Result) proto.Message {
		resp := &collogspb.ExportLogsServiceResponse{}
		if r.Rejected > 0 || r.Message != "" {
			resp.PartialSuccess = &collogspb.ExportLogsPartialSuccess{RejectedLogRecords: r.Rejected, ErrorMessage: r.Message}
		}
		return resp
	},
}

// DecodeLogs decodes an ExportLogsServiceRequest (protobuf, or OTLP/JSON
// when isJSON) and converts its log records; records without any time get
// the time of decoding.
func DecodeLogs(body []byte, isJSON bool) (Result, error) {
	return decodeLogs(body, isJSON, time.Now())
}

func decodeLogs(body []byte, isJSON bool, now time.Time) (Result, error) {
	req := &collogspb.ExportLogsServiceRequest{}
	var err error
	if isJSON {
		err = UnmarshalJSON(body, req)
	} else {
		err = proto.Unmarshal(body, req)
	}
	if err != nil {
		return Result{}, err
	}
	return ConvertLogs(req, now), nil
}

// ConvertLogs turns every log record of an OTLP export request into a log
// event (event.KindLog, Time = time_unix_nano, or observed_time_unix_nano
// when that is 0, or now when both are) whose fields are a Data Prepper
// OpenTelemetry log document. Records whose trace or span ID has a wrong
// length are rejected individually and reported in the result.
func ConvertLogs(req *collogspb.ExportLogsServiceRequest, now time.Time) Result {
	c := converterPool.Get().(*converter)
	defer converterPool.Put(c)
	return c.logs(req, now)
}

func (c *converter) logs(req *collogspb.ExportLogsServiceRequest, now time.Time) Result {
	total := 0
	for _, rl := range req.GetResourceLogs() {
		for _, sl := range rl.GetScopeLogs() {
			total += len(sl.GetLogRecords())
		}
	}
	var r Result
	if total == 0 {
		return r
	}
	if c.logKeys == nil {
		c.logKeys = make(map[string]string, 64)
	}
	nowNS := uint64(0)
	if ns := now.UnixNano(); ns > 0 {
		nowNS = uint64(ns)
	}
	batch := event.NewBatch(total, event.KindLog, time.Time{})
	r.Events = batch[:0]
	var firstErr string
	for _, rl := range req.ResourceLogs {
		if rl == nil {
			continue
		}
		rc := c.resource(rl.Resource)
		for _, sl := range rl.ScopeLogs {
			if sl == nil {
				continue
			}
			sc := scopeCtx{name: "", version: ""}
			if sl.Scope != nil {
				sc = scopeCtx{name: sl.Scope.Name, version: sl.Scope.Version}
			}
			schema := sl.SchemaUrl
			if schema == "" {
				schema = rl.SchemaUrl
			}
			for _, lr := range sl.LogRecords {
				if lr == nil {
					continue
				}
				if msg := validateLog(lr); msg != "" {
					r.Rejected++
					if firstErr == "" {
						firstErr = msg
					}
					continue
				}
				ev := batch[len(r.Events)]
				c.logRecord(ev, lr, &rc, &sc, schema, nowNS)
				r.Events = append(r.Events, ev)
			}
		}
	}
	if r.Rejected > 0 {
		r.Message = "rejected " + strconv.FormatInt(r.Rejected, 10) + " of " + strconv.Itoa(total) +
			" log records with invalid IDs; first: " + firstErr
	}
	return r
}

// validateLog returns why a log record cannot be a document, or "". Log
// records need no IDs: empty (or all-zero) IDs mean none.
func validateLog(lr *logspb.LogRecord) string {
	switch {
	case len(lr.TraceId) != 0 && len(lr.TraceId) != 16:
		return "log record: trace_id has " + strconv.Itoa(len(lr.TraceId)) + " bytes, want 16 or none"
	case len(lr.SpanId) != 0 && len(lr.SpanId) != 8:
		return "log record: span_id has " + strconv.Itoa(len(lr.SpanId)) + " bytes, want 8 or none"
	}
	return ""
}

// logRecord fills ev from a validated log record.
func (c *converter) logRecord(ev *event.Event, lr *logspb.LogRecord, rc *resourceCtx, sc *scopeCtx, schema string, nowNS uint64) {
	observed := lr.ObservedTimeUnixNano
	if observed == 0 {
		observed = nowNS
	}
	ts := lr.TimeUnixNano
	if ts == 0 {
		ts = observed
	}
	hasTrace := len(lr.TraceId) == 16 && !allZero(lr.TraceId)
	hasSpan := len(lr.SpanId) == 8 && !allZero(lr.SpanId)
	// One string holds the IDs and both times; the fields are slices of it.
	b := c.buf[:0]
	b = appendTime(b, ts)
	b = appendTime(b, observed)
	if hasTrace {
		b = appendHex(b, lr.TraceId)
	}
	if hasSpan {
		b = appendHex(b, lr.SpanId)
	}
	c.buf = b
	s := string(b)
	off := 2 * timeLen

	f := make(map[string]any, logFields+len(lr.Attributes)+len(rc.attrs))
	f[FieldTime] = s[:timeLen]
	f[FieldObservedTime] = s[timeLen:off]
	if hasTrace {
		f[FieldTraceID] = s[off : off+32]
		off += 32
	}
	if hasSpan {
		f[FieldSpanID] = s[off : off+16]
	}
	f[FieldFlags] = int64(lr.Flags)
	f[FieldSeverityNumber] = int64(lr.SeverityNumber)
	f[FieldSeverityText] = lr.SeverityText
	body := bodyValue(lr.Body, 0)
	f[FieldBody] = body
	if str, ok := body.(string); ok {
		// weft's log processors (parse_json, grok) read message by default.
		f[FieldMessage] = str
	}
	f[FieldDroppedAttributesCount] = int64(lr.DroppedAttributesCount)
	f[FieldServiceName] = rc.serviceName
	f[FieldSchemaURL] = schema
	f[FieldInstrumentationScope] = map[string]any{FieldName: sc.name, FieldVersion: sc.version}
	if lr.EventName != "" {
		f[FieldEventName] = lr.EventName
	}
	for _, a := range lr.Attributes {
		if a != nil {
			f[c.flatKey(c.logKeys, LogAttributesPrefix, a.Key)] = attrValue(a.Value)
		}
	}
	for _, a := range rc.attrs {
		f[a.k] = a.v
	}
	ev.Kind = event.KindLog
	ev.Time = unixNano(ts)
	ev.SetFields(f)
	ev.SetMetadata(MetadataSignal, SignalLogs)
}

// bodyValue converts a log body: scalars as attribute values are (bytes as
// base64), key-value lists as objects and arrays as lists, nested, with
// their keys unchanged (a body is the log's own structure, not an
// attribute name). An unset body is "".
func bodyValue(v *commonpb.AnyValue, depth int) any {
	if v == nil {
		if depth == 0 {
			return ""
		}
		return nil
	}
	switch x := v.Value.(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	case *commonpb.AnyValue_DoubleValue:
		return x.DoubleValue
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	case *commonpb.AnyValue_BytesValue:
		return base64.StdEncoding.EncodeToString(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue:
		if depth >= maxValueDepth {
			return nil
		}
		vals := x.ArrayValue.GetValues()
		out := make([]any, len(vals))
		for i, e := range vals {
			out[i] = bodyValue(e, depth+1)
		}
		return out
	case *commonpb.AnyValue_KvlistValue:
		if depth >= maxValueDepth {
			return nil
		}
		vals := x.KvlistValue.GetValues()
		out := make(map[string]any, len(vals))
		for _, e := range vals {
			if e != nil {
				out[e.Key] = bodyValue(e.Value, depth+1)
			}
		}
		return out
	}
	if depth == 0 {
		return ""
	}
	return nil
}
