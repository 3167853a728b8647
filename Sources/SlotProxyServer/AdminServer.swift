// The admin HTTP endpoint (metrics-port, metrics-bind): libevent's evhttp on a thread and
// event_base of its own, so a scrape never runs on a worker's loop. It only reads: workers'
// relaxed-atomic counters, the snapshots workers publish on their tick, and the current
// cluster view (MetricsCollector).
//
//   GET /metrics ─▶ MetricsCollector.snapshot() ─▶ PrometheusText (text format 0.0.4)
//   GET /healthz ─▶ 200 "ok" (the process serves)
//   GET /readyz  ─▶ 200 "ok" | 503 "<reason>" (slot map complete, every primary connected)
//   anything else ─▶ 404

import CLibevent
import Glibc
import SlotProxyCore

final class AdminServer: @unchecked Sendable {
    private let context: ProxyContext
    private let base: OpaquePointer
    private let http: OpaquePointer
    private var started = false
    /// Counted down when the loop's thread has left `event_base_dispatch`.
    private let exited = Latch(count: 1)

    /// Binds the endpoint; throws when the address cannot be bound (the proxy then does not start).
    init(context: ProxyContext, host: String, port: Int) throws {
        self.context = context
        guard let base = event_base_new() else { throw SocketError("event_base_new failed") }
        guard let http = evhttp_new(base) else {
            event_base_free(base)
            throw SocketError("evhttp_new failed")
        }
        self.base = base
        self.http = http
        guard evhttp_bind_socket_with_handle(http, host, UInt16(port)) != nil else {
            evhttp_free(http)
            event_base_free(base)
            throw SocketError("cannot bind the metrics endpoint to \(host):\(port)")
        }
        evhttp_set_timeout(http, 10)
        evhttp_set_allowed_methods(http, UInt16(EVHTTP_REQ_GET.rawValue | EVHTTP_REQ_HEAD.rawValue))
        evhttp_set_gencb(http, adminRequestCallback, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Serves on a thread of its own until `stop()`.
    func start() {
        started = true
        OSThread.start(name: "admin") { [base, exited] in
            event_base_dispatch(base)
            exited.countDown()
        }
    }

    /// Stops the loop (any thread).
    func stop() {
        event_base_loopbreak(base)
    }

    /// Waits for the loop's thread to end, then frees the endpoint, so nothing is left for
    /// LeakSanitizer at exit. False when the thread did not end in time (nothing is freed).
    func join(timeout: Double) -> Bool {
        guard started, exited.wait(timeout: timeout) else { return false }
        started = false
        evhttp_free(http)
        event_base_free(base)
        return true
    }

    fileprivate func handle(_ request: OpaquePointer) {
        let uri = evhttp_request_get_uri(request).map { String(cString: $0) } ?? "/"
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? "/"
        let collector = MetricsCollector(context: context)
        switch path {
        case "/metrics":
            reply(request, 200, "OK", PrometheusText.render(collector.snapshot()), contentType: PrometheusText.contentType)
        case "/healthz":
            reply(request, 200, "OK", "ok\n")
        case "/readyz":
            let (ready, reason) = collector.readiness()
            reply(request, ready ? 200 : 503, ready ? "OK" : "Service Unavailable", reason + "\n")
        default:
            reply(request, 404, "Not Found", "not found\n")
        }
    }

    private func reply(_ request: OpaquePointer, _ code: Int32, _ status: String, _ body: String,
                       contentType: String = "text/plain; charset=utf-8") {
        guard let buffer = evbuffer_new() else { return }
        defer { evbuffer_free(buffer) }
        var bytes = Array(body.utf8)
        evbuffer_add(buffer, &bytes, bytes.count)
        evhttp_add_header(evhttp_request_get_output_headers(request), "Content-Type", contentType)
        evhttp_send_reply(request, code, status, buffer)
    }
}

private let adminRequestCallback: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void = { request, ctx in
    guard let request, let ctx else { return }
    Unmanaged<AdminServer>.fromOpaque(ctx).takeUnretainedValue().handle(request)
}
