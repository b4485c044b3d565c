import type { CloseInfo } from '../errors.js'
import { isJsonRpc, Method, WireCode } from '../protocol.js'
import type { Transport } from '../transport.js'
import { brokerHello } from './hello.js'
import type { BrokerLink, Delivery, Received, Subscription } from './adapter.js'
import { checkSize } from './size.js'

/** A call this member took and has not answered. */
interface Taken {
  delivery: Delivery
  /** The caller's own id; undefined for a notification (run as a request whose reply is dropped). */
  id: unknown
}

/** How long a cancel for a call not (yet) seen here is remembered: a queued call arriving later never runs. */
const CANCEL_MEMORY = 60_000
/** Most such cancels remembered: a flood of them forgets the oldest first. */
const MAX_CANCELS = 100_000

/**
 * The member's side of a service, as a Transport under an ordinary Peer (whose dispatcher, namespace,
 * handler pool and value encoding do all the work).
 *
 * Calls from many clients arrive on one queue; each is given the id `<client>/<its id>`, unique
 * across clients, and its reply goes back to the connection it came from, after which it is
 * acknowledged. Notifications are run as requests too, so that every delivery holds a handler slot
 * until it ends: the broker's prefetch is then exactly the member's concurrency, and nothing waits
 * inside a member where another could have taken it.
 */
export class MemberTransport implements Transport {
  readonly capabilities = { structuredClone: false, transfer: false, reportsClose: true, references: false } as const
  readonly #service: string
  readonly #idempotent: (path: string) => boolean
  readonly #problem: (error: Error) => void
  readonly #maxMessageSize: number
  readonly #taken = new Map<string, Taken>()
  /** Cancels that came before their call, by local id, with when to forget them. */
  readonly #cancelled = new Map<string, number>()
  #link: BrokerLink | undefined
  #onMessage: ((message: unknown) => void) | undefined
  #onClose: ((info: CloseInfo) => void) | undefined
  #notifications = 0
  #idle: (() => void) | undefined
  #closed = false

  constructor(service: string, idempotent: (path: string) => boolean, maxMessageSize: number, problem: (error: Error) => void) {
    this.#service = service
    this.#maxMessageSize = maxMessageSize
    this.#idempotent = idempotent
    this.#problem = problem
  }

  /** Calls taken and not yet answered. */
  get inFlight(): number {
    return this.#taken.size
  }

  onMessage(listener: (message: unknown) => void): void {
    this.#onMessage = listener
    queueMicrotask(() => listener(brokerHello()))
  }

  onClose(listener: (info: CloseInfo) => void): void {
    this.#onClose = listener
  }

  /** A new connection: calls come from it from now on. */
  attach(link: BrokerLink): void {
    this.#link = link
  }

  /** The connection is gone: what was taken on it can't be answered; the broker gives it to another member. */
  detach(): void {
    this.#link = undefined
    for (const key of [...this.#taken.keys()]) this.#abort(key)
    this.#taken.clear()
    this.#idle?.()
  }

  readonly take = (delivery: Delivery): void => {
    let message: { [key: string]: unknown }
    try {
      message = JSON.parse(delivery.body)
    } catch {
      delivery.ack()
      return this.#problem(new Error(`A call to "${this.#service}" that is not JSON was dropped`))
    }
    if (!isJsonRpc(message) || typeof message.method !== 'string') {
      delivery.ack()
      return this.#problem(new Error(`A message to "${this.#service}" that is not a JSON-RPC call was dropped`))
    }
    const notification = message.id === undefined || message.id === null
    const key = notification ? `${delivery.from}/n${++this.#notifications}` : `${delivery.from}/${String(message.id)}`
    if (this.#cancelled.delete(key)) return delivery.ack()
    if (delivery.redelivered) {
      // It was taken before by a member that went away: it may have run. An idempotent call gets one
      // second chance, at the back of the queue; any other call, or one lost twice, is never run
      // again (a call that kills every member it reaches must not take the whole service down).
      if (this.#idempotent(message.method) && !delivery.retried) return delivery.retry()
      delivery.ack()
      const why = delivery.retried ? 'it was already run again once after losing a member' : 'it is not marked idempotent'
      if (!notification) this.#replyError(delivery, message.id, WireCode.ChannelClosed, `The member of "${this.#service}" running "${message.method}" was lost; the call may or may not have run, and was not run again (${why})`)
      return
    }
    this.#taken.set(key, { delivery, id: notification ? undefined : message.id })
    message.id = key
    this.#onMessage?.(message)
  }

  /** Control messages from clients: cancels and `members()` queries. */
  readonly control = (received: Received, info: () => object): void => {
    let message: { [key: string]: unknown }
    try {
      message = JSON.parse(received.body)
    } catch {
      return
    }
    if (message.method === Method.Cancel) {
      const id = (message.params as { id?: unknown } | undefined)?.id
      const key = `${received.from}/${String(id)}`
      const taken = this.#taken.get(key)
      if (taken === undefined) return this.#remember(key)
      // The caller has given up and no reply will be sent: the delivery is done with now. (Its handler
      // may run on until it heeds its signal; a next delivery waits for its slot in the dispatcher.)
      this.#abort(key)
      taken.delivery.ack()
      if (this.#taken.size === 0) this.#idle?.()
    } else if (message.method === MEMBERS && received.replyTo !== undefined && received.from !== undefined) {
      this.#link?.sendReply(received.replyTo, JSON.stringify({ jsonrpc: '2.0', id: message.id, result: info() }), received.from)
    }
  }

  send(message: unknown): void {
    if (this.#closed) return
    const m = message as { [key: string]: unknown }
    if (typeof m.method === 'string') {
      if (m.method === Method.Event) {
        const body = JSON.stringify(m)
        checkSize(body, this.#maxMessageSize, `The event "${String((m.params as unknown[])[0])}"`)
        return this.#link?.sendEvent(this.#service, body)
      }
      // The rest of the protocol (hello, close, flush, ping) has nobody to go to.
      if (m.method.startsWith('rpc.')) return
      throw new Error(`A member of "${this.#service}" cannot call its clients ("${m.method}")`)
    }
    const key = m.id as string
    const taken = this.#taken.get(key)
    if (taken === undefined) return // answered already, or taken on a connection that is gone
    if (taken.id !== undefined) {
      m.id = taken.id
      const body = JSON.stringify(m)
      m.id = key
      // Too large: thrown before anything changes, so that the dispatcher sends an error reply instead.
      checkSize(body, this.#maxMessageSize, 'The reply')
      this.#taken.delete(key)
      if (taken.delivery.replyTo !== undefined) this.#link?.sendReply(taken.delivery.replyTo, body, taken.delivery.from ?? '')
    } else if (this.#taken.delete(key) && m.error !== undefined) {
      this.#problem(Object.assign(new Error(`A notification handler of "${this.#service}" failed: ${(m.error as { message?: string }).message}`), { data: (m.error as { data?: unknown }).data }))
    }
    taken.delivery.ack()
    if (this.#taken.size === 0) this.#idle?.()
  }

  /** Resolves once every taken call is answered, or after `ms`. */
  settled(ms: number): Promise<void> {
    if (this.#taken.size === 0) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done(): void {
        clearTimeout(timer)
        resolve()
      }
      this.#idle = done
    })
  }

  /** Aborts the handlers of what is still taken (their deliveries go back to the queue with the subscription). */
  abortAll(): void {
    for (const key of [...this.#taken.keys()]) this.#abort(key)
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#taken.clear()
    this.#onClose?.({ reason: `the member of "${this.#service}" closed`, local: true })
  }

  /** Its handler's signal aborts; its reply, if it comes, is not sent and the delivery not acknowledged. */
  #abort(key: string): void {
    this.#onMessage?.({ jsonrpc: '2.0', method: Method.Cancel, params: { id: key } })
    this.#taken.delete(key)
  }

  #remember(key: string): void {
    const now = Date.now()
    // Insertion order is expiry order: forget from the front.
    for (const [old, until] of this.#cancelled) {
      if (until > now && this.#cancelled.size < MAX_CANCELS) break
      this.#cancelled.delete(old)
    }
    this.#cancelled.set(key, now + CANCEL_MEMORY)
  }

  #replyError(delivery: Delivery, id: unknown, code: number, text: string): void {
    if (delivery.replyTo === undefined) return
    this.#link?.sendReply(delivery.replyTo, JSON.stringify({ jsonrpc: '2.0', id, error: { code, message: text } }), delivery.from ?? '')
  }
}

/** The control request `members()` sends to every member. */
export const MEMBERS = 'rpc.members'

export type { Subscription }
