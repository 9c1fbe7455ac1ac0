import Foundation
import Hummingbird
import RillKafka

/// A request the endpoint can't answer, as a JSON error: `{"error": "...", "status": 404}`.
/// A retryable one (503) says when to try again.
struct HTTPFailure: HTTPResponseError {
    let status: HTTPResponse.Status
    let message: String

    init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    /// A store query's failure: one the instance can't answer now (or any more) is 503, an unknown
    /// store 404, a query of the wrong types 400, a configuration that can't route 500.
    init(_ error: InvalidStateStoreError) {
        switch error.cause {
        case .unavailable: self.init(.serviceUnavailable, error.description)
        case .unknownStore: self.init(.notFound, error.description)
        case .wrongType: self.init(.badRequest, error.description)
        case .misconfigured: self.init(.internalServerError, error.description)
        }
    }

    /// Any error, as the JSON answer it gets: what the endpoint made stays; others are 500s naming it.
    static func from(_ error: Error) -> HTTPFailure {
        switch error {
        case let failure as HTTPFailure: failure
        case let invalid as InvalidStateStoreError: HTTPFailure(invalid)
        default: HTTPFailure(.internalServerError, "\(error)")
        }
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = JSONReply.make(status, Body(error: message, status: status.code))
        if status == .serviceUnavailable { response.headers[.retryAfter] = "1" }
        return response
    }

    private struct Body: Encodable {
        let error: String
        let status: Int
    }
}

enum JSONReply {
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func ok(_ body: some Encodable) -> Response { make(.ok, body) }

    static func make(_ status: HTTPResponse.Status, _ body: some Encodable) -> Response {
        let encoded = Result { try encoder.encode(body) }
        let data: Data
        switch encoded {
        case .success(let bytes): data = bytes
        case .failure(let error):
            data = (try? encoder.encode(["error": "the answer could not be encoded as JSON: \(error)", "status": "500"])) ?? Data()
        }
        return Response(
            status: (try? encoded.get()) == nil ? .internalServerError : status,
            headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension Router {
    /// The router, answering paths it has no route for with a JSON 404 naming the path.
    func addingErrorReplies() -> Router {
        middlewares.add(NotFoundAsJSON())
        return self
    }
}

/// Turns the router's bare 404 (no route) into a JSON error naming the path.
private struct NotFoundAsJSON<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            throw HTTPFailure(.notFound, "no such resource: \(request.uri.path) (see /health, /metrics, /topology, /stores)")
        }
    }
}
