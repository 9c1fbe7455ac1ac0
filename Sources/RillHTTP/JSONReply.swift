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

    /// A store query's failure: retryable ones are 503, the others (no such store, wrong types) 404 or 400.
    init(_ error: InvalidStateStoreError) {
        if error.retryable {
            self.init(.serviceUnavailable, error.description)
        } else if error.message.hasPrefix("the topology has no state store") {
            self.init(.notFound, error.description)
        } else {
            self.init(.badRequest, error.description)
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
        let data = (try? encoder.encode(body)) ?? Data(#"{"error":"the answer could not be encoded as JSON"}"#.utf8)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
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
