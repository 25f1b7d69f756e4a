import NIOCore
import NIOHTTP1

/// Takes the HTTP/1 codecs out of a connection that switched protocols. The decoders go last: when
/// removed they hand the bytes they hold (the first frames after the 101) to the tunnel behind them.
enum HTTPPipelines {
    static func removeClientHandlers(from channel: any Channel) throws {
        let pipeline = channel.pipeline.syncOperations
        try pipeline.removeHandler(pipeline.handler(type: UpstreamHandler.self), promise: nil)
        try pipeline.removeHandler(pipeline.handler(type: HTTPRequestEncoder.self), promise: nil)
        try pipeline.removeHandler(pipeline.handler(type: ByteToMessageHandler<HTTPResponseDecoder>.self), promise: nil)
    }

    static func removeServerHandlers(from channel: any Channel, proxy: ProxyHandler) throws {
        let pipeline = channel.pipeline.syncOperations
        try pipeline.removeHandler(proxy, promise: nil)
        try pipeline.removeHandler(pipeline.handler(type: HTTPResponseEncoder.self), promise: nil)
        try pipeline.removeHandler(pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self), promise: nil)
    }
}
