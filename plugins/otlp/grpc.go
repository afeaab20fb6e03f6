package otlp

import (
	"context"
	"strings"
	"sync"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/gzip" // accept gzip-compressed gRPC requests
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// The gRPC side serves each signal's Export method with a ServiceDesc whose
// handler receives the request as raw bytes (rawCodec) and decodes it with
// the generated types itself. Letting gRPC decode would answer a malformed
// protobuf with INTERNAL ("error unmarshalling request") before any handler
// runs; decoding here answers INVALID_ARGUMENT with the reason, and counts
// it. Every other message (responses, health, reflection) goes through the
// standard proto codec.

// MaxConcurrentStreams bounds the requests one HTTP/2 connection (gRPC or
// HTTP) may have in flight, so that memory held by request bodies is bounded
// by max_connection_count × MaxConcurrentStreams × max_request_length.
const MaxConcurrentStreams = 32

// rawRequest receives an Export request's bytes.
type rawRequest struct{ buf []byte }

var rawPool = sync.Pool{New: func() any { return &rawRequest{} }}

// maxPooledBuffer is the largest request buffer kept for reuse.
const maxPooledBuffer = 1 << 20

// rawCodec passes rawRequest through and delegates everything else to the
// proto codec. It keeps the name "proto" so clients see nothing unusual.
type rawCodec struct{ fallback encoding.CodecV2 }

func (c rawCodec) Marshal(v any) (mem.BufferSlice, error) { return c.fallback.Marshal(v) }

func (c rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if r, ok := v.(*rawRequest); ok {
		n := data.Len()
		if cap(r.buf) < n {
			r.buf = make([]byte, n)
		}
		r.buf = r.buf[:n]
		data.CopyTo(r.buf)
		return nil
	}
	return c.fallback.Unmarshal(data, v)
}

func (rawCodec) Name() string { return grpcproto.Name }

func (r *Receiver) newGRPCServer(native bool) *grpc.Server {
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(int(r.opts.MaxRequestLength)),
		grpc.MaxConcurrentStreams(MaxConcurrentStreams),
		grpc.ForceServerCodecV2(rawCodec{fallback: encoding.GetCodecV2(grpcproto.Name)}),
		grpc.ChainUnaryInterceptor(r.unaryAuth),
		grpc.ChainStreamInterceptor(r.streamAuth),
		grpc.StatsHandler(&grpcStats{r: r}),
	}
	if native {
		if r.tls != nil {
			opts = append(opts, grpc.Creds(credentials.NewTLS(r.tls)))
		}
		// Served through net/http (unframed requests), the HTTP server
		// enforces the timeout; natively, bound the connection handshake.
		opts = append(opts, grpc.ConnectionTimeout(r.opts.RequestTimeout))
	}
	gs := grpc.NewServer(opts...)
	for _, sig := range r.signals {
		gs.RegisterService(r.serviceDesc(sig), r)
	}
	if r.opts.HealthCheckService {
		hs := health.NewServer()
		for _, sig := range r.signals {
			hs.SetServingStatus(sig.GRPCService, healthpb.HealthCheckResponse_SERVING)
		}
		healthpb.RegisterHealthServer(gs, hs)
		r.health = append(r.health, hs)
	}
	if r.opts.ProtoReflectionService {
		reflection.Register(gs)
	}
	return gs
}

func (r *Receiver) serviceDesc(sig *Signal) *grpc.ServiceDesc {
	return &grpc.ServiceDesc{
		ServiceName: sig.GRPCService,
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Export",
			Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
				raw := rawPool.Get().(*rawRequest)
				defer func() {
					if cap(raw.buf) <= maxPooledBuffer {
						raw.buf = raw.buf[:0]
						rawPool.Put(raw)
					}
				}()
				if err := dec(raw); err != nil {
					return nil, err
				}
				handle := func(ctx context.Context, _ any) (any, error) { return r.grpcExport(ctx, sig, raw.buf) }
				if interceptor == nil {
					return handle(ctx, raw)
				}
				return interceptor(ctx, raw, &grpc.UnaryServerInfo{Server: srv, FullMethod: sig.GRPCMethod()}, handle)
			},
		}},
		Metadata: sig.GRPCFile,
	}
}

func (r *Receiver) grpcExport(ctx context.Context, sig *Signal, body []byte) (any, error) {
	markHandled(ctx)
	resp, o := r.export(ctx, sig, body, false, ProtocolGRPC)
	if o.code == codes.OK {
		return resp, nil
	}
	return nil, o.grpcError()
}

// grpcError is the status of a failed outcome; a retry delay travels as
// google.rpc.RetryInfo, which OTLP exporters honour.
func (o outcome) grpcError() error {
	st := status.New(o.code, o.msg)
	if o.retry > 0 {
		if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(o.retry)}); err == nil {
			st = d
		}
	}
	return st.Err()
}

// signalFor returns the signal whose Export method is fullMethod.
func (r *Receiver) signalFor(fullMethod string) *Signal {
	for _, s := range r.signals {
		if s.GRPCMethod() == fullMethod {
			return s
		}
	}
	return nil
}

func isHealthMethod(fullMethod string) bool {
	return strings.HasPrefix(fullMethod, "/grpc.health.v1.Health/")
}

func (r *Receiver) grpcAuthorized(ctx context.Context, fullMethod string) bool {
	if !r.auth.required() || isHealthMethod(fullMethod) && r.opts.UnauthenticatedHealthCheck {
		return true
	}
	md, _ := metadata.FromIncomingContext(ctx)
	for _, h := range md.Get("authorization") {
		if r.auth.check(h) {
			return true
		}
	}
	return false
}

func (r *Receiver) unaryAuth(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if !r.grpcAuthorized(ctx, info.FullMethod) {
		if sig := r.signalFor(info.FullMethod); sig != nil {
			markHandled(ctx)
			return nil, r.unauthenticated(ProtocolGRPC, sig).grpcError()
		}
		return nil, status.Error(codes.Unauthenticated, "missing or invalid credentials")
	}
	return handler(ctx, req)
}

func (r *Receiver) streamAuth(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if !r.grpcAuthorized(ss.Context(), info.FullMethod) {
		return status.Error(codes.Unauthenticated, "missing or invalid credentials")
	}
	return handler(srv, ss)
}

// grpcStats counts Export calls that gRPC ended before the handler ran: a
// message over max_request_length (RESOURCE_EXHAUSTED, also after
// decompression) or a body that does not decompress.
type grpcStats struct{ r *Receiver }

type rpcStateKey struct{}

type rpcState struct {
	sig     *Signal
	handled bool
}

func markHandled(ctx context.Context) {
	if st, ok := ctx.Value(rpcStateKey{}).(*rpcState); ok {
		st.handled = true
	}
}

func (g *grpcStats) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	if sig := g.r.signalFor(info.FullMethodName); sig != nil {
		return context.WithValue(ctx, rpcStateKey{}, &rpcState{sig: sig})
	}
	return ctx
}

func (g *grpcStats) HandleRPC(ctx context.Context, s stats.RPCStats) {
	end, ok := s.(*stats.End)
	if !ok || end.Error == nil {
		return
	}
	st, ok := ctx.Value(rpcStateKey{}).(*rpcState)
	if !ok || st.handled {
		return
	}
	o := outcome{result: ResultInvalid}
	switch status.Code(end.Error) {
	case codes.ResourceExhausted:
		o.result = ResultTooLarge
	case codes.Canceled, codes.DeadlineExceeded, codes.Unavailable:
		o.result = ResultUnavailable
	default:
		g.r.invalidLog.Record(end.Error)
	}
	g.r.finish(ProtocolGRPC, st.sig, o)
}

func (g *grpcStats) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (g *grpcStats) HandleConn(context.Context, stats.ConnStats)                       {}
