import NIOCore
import NIOHTTP1

/// Puts the HTTP/1 server codec into a connection, and takes the codecs out of one that switched
/// protocols. The decoders go last: when removed they hand the bytes they hold (the first frames
/// after the 101) to the tunnel behind them.
enum HTTPPipelines {
    /// Parse errors are answered by ProxyHandler, which also does its own pipelining. Response headers
    /// are either parsed from a backend by llhttp (which refuses CR/LF) or come from configuration
    /// validated at load time, so the encoder does not validate them again.
    static func addServerCodec(to pipeline: ChannelPipeline.SynchronousOperations,
                               position: ChannelPipeline.SynchronousOperations.Position) throws {
        try pipeline.configureHTTPServerPipeline(position: position, withPipeliningAssistance: false, withErrorHandling: false,
                                                 withOutboundHeaderValidation: false)
    }


    static func removeServerHandlers(from channel: any Channel, proxy: ProxyHandler) throws {
        let pipeline = channel.pipeline.syncOperations
        try pipeline.removeHandler(proxy, promise: nil)
        try pipeline.removeHandler(pipeline.handler(type: HTTPResponseEncoder.self), promise: nil)
        try pipeline.removeHandler(pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self), promise: nil)
    }

    /// After a 101, both connections drop their HTTP handlers and become the two ends of a byte
    /// tunnel. The surgery waits for the next tick so the client's decoder has finished the call that
    /// delivered the 101; bytes it holds by then are handed to the tunnel. `firstBytes` are what the
    /// backend sent after its 101 (read by its raw connection): the client gets them first.
    static func tunnel(client: any Channel, proxy: ProxyHandler, backend: any Channel, firstBytes: ByteBuffer?,
                       onClose: @escaping () -> Void) {
        client.eventLoop.assumeIsolated().execute {
            do {
                let (clientEnd, backendEnd) = TunnelHandler.pair(onClose: onClose)
                try client.pipeline.syncOperations.addHandler(clientEnd)
                try backend.pipeline.syncOperations.addHandler(backendEnd)
                let backendPipeline = backend.pipeline.syncOperations
                try backendPipeline.removeHandler(backendPipeline.handler(type: RawUpstreamConnection.self), promise: nil)
                try removeServerHandlers(from: client, proxy: proxy)
                if let firstBytes { clientEnd.send(firstBytes) }
            } catch {
                client.close(promise: nil)
                backend.close(promise: nil)
            }
        }
    }
}
