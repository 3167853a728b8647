// CLIENT subcommands that look beyond the client's own connection: CLIENT LIST shows every
// client of this proxy (all workers, from the ClientRegistry), CLIENT KILL closes some of
// them (each on its own worker), and the flags Redis accepts but a proxy has no use for.
//
//   CLIENT LIST ─▶ ClientListFilter ─▶ registry records ─▶ ClientInfo lines
//   CLIENT KILL ─▶ ClientKillFilter ─▶ matching records ─▶ registry.requestKill ─▶ owners close

import SlotProxyCore

extension ClientSession {
    /// CLIENT LIST [TYPE type] [ID id ...]
    func clientList(_ args: RequestArguments) {
        switch ClientListFilter.parse((2..<args.count).map { args.string($0) }) {
        case .failure(let error):
            respondError(error.message)
        case .success(let filter):
            let now = MonotonicClock.seconds()
            var text = ""
            for record in worker.context.sessions.records() {
                var info = record.info(now: now)
                if record.id == id { info.lastCommand = "client|list" }
                if filter.matches(info) { text += info.line + "\n" }
            }
            respond(infoReply(text))
        }
    }

    /// CLIENT KILL ip:port | CLIENT KILL [ID id] [ADDR ip:port] [LADDR ip:port] [USER name]
    /// [TYPE type] [SKIPME yes|no]. The clients close on their own workers in their next loop
    /// iteration, after this reply is written.
    func clientKill(_ args: RequestArguments) {
        let userNames = Credentials(worker.context.config).userNames
        switch ClientKillFilter.parse((2..<args.count).map { args.string($0) }, userNames: userNames) {
        case .failure(let error):
            respondError(error.message)
        case .success(let filter):
            let now = MonotonicClock.seconds()
            let targets = worker.context.sessions.records().filter { filter.matches($0.info(now: now), callerID: id) }
            worker.context.sessions.requestKill(targets)
            if filter.isOldForm {
                respond(targets.isEmpty ? RESPReply.error("ERR No such client") : RESPReply.ok)
            } else {
                respond(RESPReply.integer(targets.count))
            }
        }
    }

    /// CLIENT REPLY ON|OFF|SKIP: ON is what every connection does; suppressing replies is
    /// not supported by this version.
    /// CLIENT REPLY ON|OFF|SKIP: OFF and SKIP themselves get no reply, ON gets +OK.
    func clientReply(_ args: RequestArguments) {
        if args.equalsLowercased(2, "on") {
            replyMode = .on
            replies.silencing = false
            respond(RESPReply.ok)
        } else if args.equalsLowercased(2, "off") {
            replyMode = .off
        } else if args.equalsLowercased(2, "skip") {
            // The next command's reply is dropped, unless replies are off altogether.
            if replyMode == .on { replyMode = .skipNext }
        } else {
            respondError("ERR syntax error")
        }
    }

    /// CLIENT NO-EVICT ON|OFF, CLIENT NO-TOUCH ON|OFF: accepted; the proxy's clients are
    /// never evicted, and the nodes see the proxy's shared connections, not this client.
    func onOffOption(_ args: RequestArguments) {
        if args.equalsLowercased(2, "on") || args.equalsLowercased(2, "off") {
            respond(RESPReply.ok)
        } else {
            respondError("ERR syntax error")
        }
    }
}
