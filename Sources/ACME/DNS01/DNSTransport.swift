import NIOCore
import NIOPosix

/// One request, one answer with the same ID: over UDP (sent again once when no answer comes within
/// `timeout`; UPDATEs that add or delete one RR are idempotent), over TCP when the request does not fit
/// a 512-byte datagram or the UDP answer is truncated. NIO channels: no thread waits on a socket.
struct DNSTransport: Sendable {
    enum Failure: Error, CustomStringConvertible {
        case noAnswer(after: Duration, attempts: Int)
        case closed
        case unreachable(String)

        var description: String {
            switch self {
            case .noAnswer(let after, let attempts): "no answer in \(attempts) × \(after)"
            case .closed: "the connection closed before an answer came"
            case .unreachable(let reason): "cannot reach it: \(reason)"
            }
        }
    }

    static let udpLimit = 512

    let host: String
    let port: Int
    let timeout: Duration
    var udpAttempts = 2

    func exchange(_ request: [UInt8]) async throws -> [UInt8] {
        let id = UInt16(request[0]) << 8 | UInt16(request[1])
        if request.count <= Self.udpLimit {
            let answer = try await udp(request, id: id)
            guard answer.count >= 4, answer[2] & 0x02 != 0 else { return answer }
        }
        return try await tcp(request, id: id)
    }

    private func address() throws -> SocketAddress {
        do { return try SocketAddress.makeAddressResolvingHost(host, port: port) } catch {
            throw Failure.unreachable("\(error)")
        }
    }

    private func udp(_ request: [UInt8], id: UInt16) async throws -> [UInt8] {
        let address = try address()
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(to: address) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(wrappingChannelSynchronously: channel)
                }
            }
        let (timeout, attempts) = (self.timeout, udpAttempts)
        return try await channel.executeThenClose { inbound, outbound in
            try await withThrowingTaskGroup(of: [UInt8].self) { group in
                group.addTask {
                    // Datagrams with another ID (a late answer to someone else's query) are not ours.
                    for try await envelope in inbound {
                        let bytes = Array(envelope.data.readableBytesView)
                        if bytes.count >= 12, UInt16(bytes[0]) << 8 | UInt16(bytes[1]) == id { return bytes }
                    }
                    throw Failure.closed
                }
                group.addTask {
                    for _ in 0..<attempts {
                        try await outbound.write(AddressedEnvelope(remoteAddress: address, data: ByteBuffer(bytes: request)))
                        try await Task.sleep(for: timeout)
                    }
                    throw Failure.noAnswer(after: timeout, attempts: attempts)
                }
                defer { group.cancelAll() }
                guard let answer = try await group.next() else { throw Failure.closed }
                return answer
            }
        }
    }

    private func tcp(_ request: [UInt8], id: UInt16) async throws -> [UInt8] {
        let components = timeout.components
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.nanoseconds(components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000))
            .connect(to: try address()) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        let timeout = self.timeout
        return try await channel.executeThenClose { inbound, outbound in
            var framed = ByteBuffer()
            framed.writeInteger(UInt16(request.count))  // RFC 1035 §4.2.2: a two-byte length before each message
            framed.writeBytes(request)
            try await outbound.write(framed)
            return try await withThrowingTaskGroup(of: [UInt8].self) { group in
                group.addTask {
                    var received = ByteBuffer()
                    for try await var chunk in inbound {
                        received.writeBuffer(&chunk)
                        while let length = received.getInteger(at: received.readerIndex, as: UInt16.self),
                              received.readableBytes >= 2 + Int(length) {
                            received.moveReaderIndex(forwardBy: 2)
                            let bytes = received.readBytes(length: Int(length)) ?? []
                            if bytes.count >= 12, UInt16(bytes[0]) << 8 | UInt16(bytes[1]) == id { return bytes }
                        }
                    }
                    throw Failure.closed
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw Failure.noAnswer(after: timeout, attempts: 1)
                }
                defer { group.cancelAll() }
                guard let answer = try await group.next() else { throw Failure.closed }
                return answer
            }
        }
    }
}
