package otlp

import (
	"compress/gzip"
	"errors"
	"io"
	"log"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/code"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// HealthPath is where GET answers health checks over HTTP.
const HealthPath = "/health"

var (
	bufPool  = sync.Pool{New: func() any { return new([]byte) }}
	gzipPool sync.Pool // *gzip.Reader
)

// newHTTPServer serves an endpoint's OTLP/HTTP paths and, when the endpoint
// also serves gRPC, gRPC calls (HTTP/2 with content-type application/grpc)
// on the same port.
func (r *Receiver) newHTTPServer(ep *Endpoint, gs *grpc.Server) *http.Server {
	mux := http.NewServeMux()
	for path, sig := range ep.HTTPPaths {
		mux.Handle(path, r.httpExport(sig))
	}
	for path, what := range ep.NotYet {
		msg := "this source does not accept OTLP " + what + " (see its signals option)"
		mux.HandleFunc(path, func(w http.ResponseWriter, req *http.Request) {
			writeStatus(w, isJSONContent(req.Header.Get("Content-Type")), http.StatusNotFound, codes.NotFound, msg, 0)
		})
	}
	if ep.Health {
		mux.HandleFunc(HealthPath, r.httpHealth)
	}
	grpcPaths := map[string]bool{}
	for _, sig := range r.signals {
		grpcPaths[sig.GRPCMethod()] = true
	}
	var handler http.Handler = mux
	if gs != nil {
		handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.ProtoMajor == 2 && strings.HasPrefix(req.Header.Get("Content-Type"), "application/grpc") {
				if sig, ok := ep.GRPCPaths[req.URL.Path]; ok {
					req.URL.Path = sig.GRPCMethod()
				} else if len(ep.GRPCPaths) > 0 && grpcPaths[req.URL.Path] {
					// Data Prepper's `path` replaces the standard method path.
					req.URL.Path = "/unknown" + req.URL.Path
				}
				gs.ServeHTTP(w, req)
				return
			}
			mux.ServeHTTP(w, req)
		})
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	protocols.SetUnencryptedHTTP2(true) // h2c with prior knowledge, as gRPC clients use it
	return &http.Server{
		Handler:           handler,
		Protocols:         &protocols,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: MaxConcurrentStreams},
		TLSConfig:         r.tls,
		ReadHeaderTimeout: r.opts.RequestTimeout,
		ReadTimeout:       r.opts.RequestTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(debugWriter{r}, "", 0),
	}
}

// debugWriter sends net/http's own messages (TLS handshake failures,
// broken connections) to the agent's log at debug level.
type debugWriter struct{ r *Receiver }

func (w debugWriter) Write(p []byte) (int, error) {
	w.r.set.Logger.Debug(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (r *Receiver) httpHealth(w http.ResponseWriter, req *http.Request) {
	if r.auth.required() && !r.opts.UnauthenticatedHealthCheck && !r.auth.check(req.Header.Get("Authorization")) {
		w.Header().Set("WWW-Authenticate", r.auth.challenge())
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	r.mu.Lock()
	up := r.started && !r.closed
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !up {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"healthy":false}`)
		return
	}
	io.WriteString(w, `{"healthy":true}`)
}

// isJSONContent reports whether a content type is JSON.
func isJSONContent(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/json")
}

// mediaType classifies a request content type: protobuf or JSON.
func mediaType(ct string) (isJSON, ok bool) {
	mt, _, _ := strings.Cut(ct, ";")
	switch strings.ToLower(strings.TrimSpace(mt)) {
	case "application/x-protobuf", "application/protobuf":
		return false, true
	case "application/json":
		return true, true
	}
	return false, false
}

// httpExport handles POSTs of one signal's export requests.
func (r *Receiver) httpExport(sig *Signal) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		isJSON, okType := mediaType(req.Header.Get("Content-Type"))
		if req.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeStatus(w, isJSON, http.StatusMethodNotAllowed, codes.Unimplemented, "use POST", 0)
			return
		}
		if !okType {
			o := r.finish(ProtocolHTTP, sig, outcome{result: ResultInvalid, code: codes.InvalidArgument,
				msg: "unsupported Content-Type " + strconv.Quote(req.Header.Get("Content-Type")) + ": use application/x-protobuf or application/json"})
			r.invalidLog.Record(errors.New(o.msg))
			writeStatus(w, false, http.StatusUnsupportedMediaType, o.code, o.msg, 0)
			return
		}
		if !r.auth.check(req.Header.Get("Authorization")) {
			o := r.unauthenticated(ProtocolHTTP, sig)
			w.Header().Set("WWW-Authenticate", r.auth.challenge())
			writeStatus(w, isJSON, http.StatusUnauthorized, o.code, o.msg, 0)
			return
		}
		buf, status, msg := r.readBody(w, req)
		if buf != nil {
			defer putBuffer(buf)
		}
		if status != 0 {
			result := ResultInvalid
			if status == http.StatusRequestEntityTooLarge {
				result = ResultTooLarge
			}
			o := r.finish(ProtocolHTTP, sig, outcome{result: result, msg: msg})
			if result == ResultInvalid {
				r.invalidLog.Record(errors.New(msg))
			}
			c := codes.InvalidArgument
			if result == ResultTooLarge {
				c = codes.ResourceExhausted
			}
			writeStatus(w, isJSON, status, c, o.msg, 0)
			return
		}
		resp, o := r.export(req.Context(), sig, *buf, isJSON, ProtocolHTTP)
		if o.code != codes.OK {
			writeStatus(w, isJSON, o.httpStatus(), o.code, o.msg, o.retry)
			return
		}
		writeMessage(w, isJSON, http.StatusOK, resp)
	})
}

// readBody reads the request body, decompressing gzip, and refuses bodies
// over max_request_length as received or once decompressed. On failure it
// returns the HTTP status and a message. The buffer goes back with
// putBuffer.
func (r *Receiver) readBody(w http.ResponseWriter, req *http.Request) (*[]byte, int, string) {
	max := int64(r.opts.MaxRequestLength)
	limit := r.opts.MaxRequestLength.String()
	if req.ContentLength > max {
		return nil, http.StatusRequestEntityTooLarge, "request body of " + strconv.FormatInt(req.ContentLength, 10) +
			" bytes exceeds max_request_length (" + limit + ")"
	}
	body := http.MaxBytesReader(w, req.Body, max)
	var src io.Reader = body
	hint := 0
	switch enc := strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding"))); enc {
	case "", "identity", "none":
		if req.ContentLength > 0 {
			hint = int(req.ContentLength) + 1 // room to see the end without growing
		}
	case "gzip", "x-gzip":
		gz, _ := gzipPool.Get().(*gzip.Reader)
		var err error
		if gz == nil {
			gz, err = gzip.NewReader(body)
		} else {
			err = gz.Reset(body)
		}
		if err != nil {
			status, msg := bodyError(err, limit)
			return nil, status, msg
		}
		defer gzipPool.Put(gz)
		src = gz
	default:
		return nil, http.StatusUnsupportedMediaType, "unsupported Content-Encoding " + strconv.Quote(enc) + ": use gzip or none"
	}
	buf := bufPool.Get().(*[]byte)
	b, over, err := readLimited((*buf)[:0], src, int(max), hint)
	*buf = b
	switch {
	case err != nil:
		status, msg := bodyError(err, limit)
		return buf, status, msg
	case over:
		return buf, http.StatusRequestEntityTooLarge, "decompressed request body exceeds max_request_length (" + limit + ")"
	}
	return buf, 0, ""
}

// readLimited reads src into dst's capacity, growing it by doubling but
// never beyond limit+1 bytes, so a body that inflates without end costs at
// most about 1.5 times the limit; over reports that src held more than
// limit bytes.
func readLimited(dst []byte, src io.Reader, limit, hint int) (b []byte, over bool, err error) {
	b = dst[:0]
	if hint > cap(b) {
		b = make([]byte, 0, min(hint, limit+1))
	}
	for {
		if len(b) == cap(b) {
			if len(b) > limit {
				return b, true, nil
			}
			c := min(max(2*cap(b), 32<<10), limit+1)
			nb := make([]byte, len(b), c)
			copy(nb, b)
			b = nb
		}
		n, err := src.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		switch {
		case len(b) > limit:
			return b, true, nil
		case err == io.EOF:
			return b, false, nil
		case err != nil:
			return b, false, err
		}
	}
}

func bodyError(err error, limit string) (int, string) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, "request body exceeds max_request_length (" + limit + ")"
	}
	if errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) || errors.Is(err, io.ErrUnexpectedEOF) {
		return http.StatusBadRequest, "invalid gzip body: " + err.Error()
	}
	return http.StatusBadRequest, "reading the request body failed: " + err.Error()
}

func putBuffer(b *[]byte) {
	if cap(*b) <= maxPooledBuffer {
		*b = (*b)[:0]
		bufPool.Put(b)
	}
}

// writeStatus answers an error with a google.rpc.Status body in the
// request's encoding, as OTLP/HTTP specifies, and Retry-After when a retry
// delay is suggested.
func writeStatus(w http.ResponseWriter, isJSON bool, httpStatus int, c codes.Code, msg string, retry time.Duration) {
	if retry > 0 {
		secs := int64((retry + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	writeMessage(w, isJSON, httpStatus, &spb.Status{Code: int32(code.Code(c)), Message: msg})
}

func writeMessage(w http.ResponseWriter, isJSON bool, httpStatus int, m proto.Message) {
	var body []byte
	var err error
	if isJSON {
		w.Header().Set("Content-Type", "application/json")
		body, err = MarshalJSON(m)
	} else {
		w.Header().Set("Content-Type", "application/x-protobuf")
		body, err = proto.Marshal(m)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(httpStatus)
	w.Write(body)
}
