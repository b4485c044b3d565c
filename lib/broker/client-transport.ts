import { BusyError, type CloseInfo } from '../errors.js'
import { Method, WireCode } from '../protocol.js'
import type { Transport } from '../transport.js'
import { brokerHello } from './hello.js'
import type { BrokerLink, Received } from './adapter.js'
import { checkSize } from './size.js'

/** A message waiting for a connection, or for a member to declare the service's queue. */
interface Outbound {
  id: unknown
  body: string
  /** When it was made, and its time to live (the call's timeout), for what is left of it when it goes. */
  at: number
  ttl: number | undefined
  /** The last wait before publishing it again, while the service has no queue. */
  retry?: number
}

/** Most messages kept while disconnected; beyond it a call fails at once with BusyError. */
const MAX_WAITING = 65536
/** While a service has no queue yet (no member ever came): try again after this, doubling up to 1 s. */
const UNROUTABLE_RETRY = 50

/**
 * A client's side of a service, as a Transport under an ordinary Peer (whose transaction manager,
 * timeouts, cancellation and value encoding do all the work).
 *
 * Calls go to the service's queue, replies come back through the broker connection, cancels go to
 * every member. It fails calls itself only for what the broker tells: a full queue (BusyError), and a
 * lost connection (ChannelClosedError for calls already sent; calls made while disconnected wait for
 * the reconnection, within their timeout).
 */
export class ClientTransport implements Transport {
  readonly capabilities = { structuredClone: false, transfer: false, reportsClose: true, expiry: true, references: false } as const
  readonly #service: string
  readonly #from: string
  readonly #problem: (error: Error) => void
  readonly #maxMessageSize: number
  #link: BrokerLink | undefined
  #onMessage: ((message: unknown) => void) | undefined
  #onClose: ((info: CloseInfo) => void) | undefined
  /** Calls sent and not answered, by id: what a lost connection fails. */
  readonly #sent = new Map<unknown, Outbound>()
  #waiting: Outbound[] = []
  readonly #retries = new Set<ReturnType<typeof setTimeout>>()
  #closed = false

  constructor(service: string, from: string, maxMessageSize: number, problem: (error: Error) => void) {
    this.#service = service
    this.#maxMessageSize = maxMessageSize
    this.#from = from
    this.#problem = problem
  }

  onMessage(listener: (message: unknown) => void): void {
    this.#onMessage = listener
    queueMicrotask(() => listener(brokerHello()))
  }

  onClose(listener: (info: CloseInfo) => void): void {
    this.#onClose = listener
  }

  attach(link: BrokerLink): void {
    this.#link = link
    const waiting = this.#waiting
    this.#waiting = []
    for (const outbound of waiting) this.#publish(outbound)
  }

  /** The connection is gone: calls sent on it may be lost, so they fail now. */
  detach(error: Error): void {
    this.#link = undefined
    for (const retry of this.#retries) clearTimeout(retry)
    this.#retries.clear()
    const sent = [...this.#sent.keys()]
    this.#sent.clear()
    const message = `Lost the broker connection while the call to "${this.#service}" was out; it may or may not have run (${error.message})`
    for (const id of sent) this.#deliver({ jsonrpc: '2.0', id, error: { code: WireCode.ChannelClosed, message } })
  }

  /** A reply from a member (or to a `members()` query, which the client takes first). */
  reply(received: Received): void {
    let message: { id?: unknown }
    try {
      message = JSON.parse(received.body)
    } catch {
      return this.#problem(new Error(`A reply from "${this.#service}" that is not JSON was dropped`))
    }
    // Late replies (the call timed out or was cancelled here) are dropped.
    if (this.#sent.delete(message.id)) this.#deliver(message)
  }

  /** An event from a member. */
  event(message: unknown): void {
    if ((message as { method?: unknown }).method === Method.Event) this.#deliver(message)
  }

  send(message: unknown): void {
    if (this.#closed) return
    const m = message as { id?: unknown; method?: string; params?: { id?: unknown }; ttl?: number }
    if (m.method === Method.Cancel) return this.#cancel(m.params?.id)
    // The rest of the protocol (hello, close, flush) has nobody to go to; members take no responses. A
    // call to a reserved path goes, to be refused by the member like any unknown path.
    if (m.method === undefined || (m.id === undefined && m.method.startsWith('rpc.'))) return
    const ttl = m.ttl
    delete m.ttl
    const body = JSON.stringify(m)
    checkSize(body, this.#maxMessageSize, `The call to "${this.#service}.${m.method}"`)
    const outbound: Outbound = { id: m.id, body, at: Date.now(), ttl }
    if (this.#link !== undefined) return this.#publish(outbound)
    if (this.#waiting.length >= MAX_WAITING) throw new BusyError(`${MAX_WAITING} messages to "${this.#service}" are already waiting for the broker connection`)
    this.#waiting.push(outbound)
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const retry of this.#retries) clearTimeout(retry)
    this.#retries.clear()
    this.#sent.clear()
    this.#waiting = []
    this.#onClose?.({ reason: `the client of "${this.#service}" closed`, local: true })
  }

  #publish(outbound: Outbound): void {
    const link = this.#link
    if (link === undefined) return void this.#waiting.push(outbound)
    let expiresIn: number | undefined
    if (outbound.ttl !== undefined) {
      expiresIn = outbound.ttl - (Date.now() - outbound.at)
      // Its caller has timed out (or is about to): nobody would take the reply.
      if (expiresIn <= 0) return void this.#sent.delete(outbound.id)
    }
    const call = outbound.id !== undefined
    if (call) this.#sent.set(outbound.id, outbound)
    try {
      link.sendCall(this.#service, outbound.body, { from: this.#from, reply: call, expiresIn })
    } catch {
      // The connection is going: detach fails what was sent, and keeps the rest for the next one.
      if (call) this.#sent.delete(outbound.id)
      this.#waiting.push(outbound)
    }
  }

  /** A call of ours the broker gave back unrun: the queue was full, or no member has declared it yet. */
  refused(received: Received): void {
    let id: unknown
    try {
      id = (JSON.parse(received.body) as { id?: unknown }).id
    } catch {
      return
    }
    const outbound = id === undefined ? undefined : this.#sent.get(id)
    if (received.refused === 'full') {
      const message = `Busy: the queue of "${this.#service}" is full (its maxQueue); the call was not queued`
      if (outbound === undefined) {
        if (id === undefined) this.#problem(new BusyError(`${message} (a notification)`))
        return // settled meanwhile (timed out, cancelled)
      }
      this.#sent.delete(id)
      return this.#deliver({ jsonrpc: '2.0', id, error: { code: WireCode.Busy, message } })
    }
    // Unroutable: no member has declared the queue yet. Calls wait for one within their timeout.
    if (outbound === undefined) {
      if (id === undefined) this.#problem(new Error(`A notification to "${this.#service}" was dropped: no member has ever served it`))
      return
    }
    const delay = Math.min((outbound.retry ?? UNROUTABLE_RETRY / 2) * 2, 1000)
    outbound.retry = delay
    const retry = setTimeout(() => {
      this.#retries.delete(retry)
      if (!this.#closed && this.#sent.get(id) === outbound) this.#publish(outbound)
    }, delay)
    this.#retries.add(retry)
  }

  #cancel(id: unknown): void {
    if (!this.#sent.delete(id)) {
      // Not sent yet: it simply never goes.
      this.#waiting = this.#waiting.filter((outbound) => outbound.id !== id)
      return
    }
    this.#link?.sendControl(this.#service, JSON.stringify({ jsonrpc: '2.0', method: Method.Cancel, params: { id } }), { from: this.#from, reply: false })
  }

  #deliver(message: unknown): void {
    if (!this.#closed) this.#onMessage?.(message)
  }
}
