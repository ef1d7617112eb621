public import NIOCore

/// One request read from a frame (the bytes after the 4-byte size prefix).
public struct KafkaRequest: Sendable, Hashable {
    public var header: RequestHeader
    public var apiKey: ApiKey
    public var body: KafkaRequestBody

    public var apiVersion: Int16 { header.requestApiVersion }
    public var correlationId: Int32 { header.correlationId }
}

/// Why a frame is not a request this code can decode. Carries what a broker needs to answer
/// (Kafka answers an ApiVersions request of an unknown version with UNSUPPORTED_VERSION) or to log
/// before closing the connection.
public enum KafkaRequestFrameError: Error, Hashable, Sendable {
    /// Fewer bytes than the fixed start of a request header.
    case truncatedHeader(frameBytes: Int)
    case unknownApiKey(apiKey: Int16, apiVersion: Int16, correlationId: Int32)
    case unsupportedVersion(apiKey: ApiKey, apiVersion: Int16, correlationId: Int32)
    case malformedHeader(apiKey: ApiKey, apiVersion: Int16, correlationId: Int32, KafkaDecodingError)
    case malformedBody(header: RequestHeader, KafkaDecodingError)
}

public enum KafkaRequestFrame {
    /// Decodes the header and the typed body of one request frame.
    ///
    /// - Parameter frame: the frame without its size prefix; the body's byte arrays (produce
    ///   records) stay slices of it.
    public static func decode(_ frame: ByteBuffer) throws(KafkaRequestFrameError) -> KafkaRequest {
        var buffer = frame
        // api key (2), api version (2), correlation id (4): present in every header version.
        guard let rawKey = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: Int16.self),
              let apiVersion = buffer.getInteger(at: buffer.readerIndex + 2, endianness: .big, as: Int16.self),
              let correlationId = buffer.getInteger(at: buffer.readerIndex + 4, endianness: .big, as: Int32.self)
        else { throw .truncatedHeader(frameBytes: frame.readableBytes) }
        guard let apiKey = ApiKey(rawValue: rawKey) else {
            throw .unknownApiKey(apiKey: rawKey, apiVersion: apiVersion, correlationId: correlationId)
        }
        guard apiKey.validVersions.contains(apiVersion) else {
            throw .unsupportedVersion(apiKey: apiKey, apiVersion: apiVersion, correlationId: correlationId)
        }
        let header: RequestHeader
        do {
            header = try RequestHeader(from: &buffer, version: KafkaHeaderVersions.request(apiKey: apiKey, apiVersion: apiVersion))
        } catch {
            throw .malformedHeader(apiKey: apiKey, apiVersion: apiVersion, correlationId: correlationId, error)
        }
        do {
            let body = try KafkaRequestBody(apiKey: apiKey, version: apiVersion, from: &buffer)
            return KafkaRequest(header: header, apiKey: apiKey, body: body)
        } catch {
            throw .malformedBody(header: header, error)
        }
    }

    /// Writes a whole request frame, size prefix included (for clients and tests).
    public static func encode<Request: KafkaRequestMessage>(
        _ request: Request, version: Int16, correlationId: Int32, clientId: String?, into buffer: inout ByteBuffer
    ) throws(KafkaEncodingError) {
        let start = buffer.writerIndex
        buffer.writeInteger(Int32(0), endianness: .big)
        let header = RequestHeader(
            requestApiKey: Request.apiKey.rawValue, requestApiVersion: version, correlationId: correlationId, clientId: clientId)
        try header.write(into: &buffer, version: KafkaHeaderVersions.request(apiKey: Request.apiKey, apiVersion: version))
        try request.write(into: &buffer, version: version)
        buffer.setInteger(Int32(buffer.writerIndex - start - 4), at: start, endianness: .big)
    }
}

public enum KafkaResponseFrame {
    /// Writes a whole response frame, size prefix included.
    public static func encode<Response: KafkaResponseMessage>(
        _ response: Response, version: Int16, correlationId: Int32, into buffer: inout ByteBuffer
    ) throws(KafkaEncodingError) {
        try encode(apiKey: Response.apiKey, version: version, correlationId: correlationId, into: &buffer) {
            (body: inout ByteBuffer) throws(KafkaEncodingError) in try response.write(into: &body, version: version)
        }
    }

    /// Writes a response frame whose body another writer produces (a router answering any API).
    public static func encode(
        apiKey: ApiKey, version: Int16, correlationId: Int32, into buffer: inout ByteBuffer,
        body: (inout ByteBuffer) throws(KafkaEncodingError) -> Void
    ) throws(KafkaEncodingError) {
        let start = buffer.writerIndex
        buffer.writeInteger(Int32(0), endianness: .big)
        let header = ResponseHeader(correlationId: correlationId)
        try header.write(into: &buffer, version: KafkaHeaderVersions.response(apiKey: apiKey, apiVersion: version))
        try body(&buffer)
        buffer.setInteger(Int32(buffer.writerIndex - start - 4), at: start, endianness: .big)
    }

    /// Reads a response frame's header and body (for clients and tests); the caller knows the API
    /// and version from its own request.
    public static func decode<Response: KafkaResponseMessage>(
        _ type: Response.Type, version: Int16, from frame: ByteBuffer
    ) throws(KafkaDecodingError) -> (header: ResponseHeader, body: Response) {
        var buffer = frame
        let header = try ResponseHeader(from: &buffer, version: KafkaHeaderVersions.response(apiKey: Response.apiKey, apiVersion: version))
        return (header, try Response(from: &buffer, version: version))
    }
}
