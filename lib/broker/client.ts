import { EventEmitter } from 'eventemitter3'
import { nanoid } from 'nanoid'
import type { ByName } from '../by-name.js'
import { checkNonNegative, checkOptions, checkPositiveInteger, optional } from '../check.js'
import { ChannelClosedError } from '../errors.js'
import type { PeerHooks } from '../hooks.js'
import { type CallOptions, Peer } from '../peer.js'
import type { Call } from '../transactions.js'
import type { RemoteOf } from '../types.js'
import type { BrokerLink, Received, Subscription } from './adapter.js'
import { ClientTransport } from './client-transport.js'
import type { Party } from './connect.js'
import { MEMBERS } from './member-transport.js'
import { MAX_MESSAGE_SIZE } from './size.js'
import type { MemberInfo } from './member.js'

/** How every answer to a `members()` query begins (members write it with JSON.stringify). */
const MEMBERS_REPLY = '{"jsonrpc":"2.0","id":"members:'

export interface ClientOptions {
  /** Default timeout of calls in ms, including time spent in the queue and waiting for a connection; 0: none. Default 30000. */
  timeout?: number
  /** Hooks of the client's calls: `meta`, `beforeCall`, `trace`. */
  hooks?: PeerHooks
  /** How long `members()` waits for every member to answer, in ms. Default 1000. */
  membersTimeout?: number
  /** Largest call, in bytes (UTF-8 JSON); a larger one fails at once with RPC_MESSAGE_TOO_LARGE. Default 64 MiB. */
  maxMessageSize?: number
}

/**
 * A client of a service served by any number of members: `client.remote.a.b(...)`, `client.call`,
 * `client.notify` and `client.on` work as on a peer. Made by `broker.client()`.
 */
export class ServiceClient<Api extends object = any> implements Party {
  /** Random id of this client: where members' replies come back to. */
  readonly id = nanoid(10)
  readonly service: string
  /** Typed proxy: `await client.remote.img.thumb(bytes)`. */
  readonly remote: RemoteOf<Api>
  readonly #peer: Peer<Api>
  readonly #transport: ClientTransport
  readonly #routes: Map<string, (message: Received) => void>
  readonly #membersTimeout: number
  /** Problems of the client's own (a notification refused by a full queue): its `error` event, with the peer's. */
  readonly #errors = new EventEmitter()
  readonly #queries = new Map<string, (message: { result?: unknown }) => void>()
  #queryCount = 0
  #link: BrokerLink | undefined
  readonly #waiters: ((link: BrokerLink | undefined) => void)[] = []
  #events: Subscription | undefined
  #leave: (() => void) | undefined
  #closed = false

  /** @internal use broker.client() */
  constructor(service: string, options: ClientOptions, routes: Map<string, (message: Received) => void>) {
    checkOptions('options', options)
    optional(checkNonNegative, 'options.membersTimeout', options.membersTimeout)
    optional(checkPositiveInteger, 'options.maxMessageSize', options.maxMessageSize)
    this.service = service
    this.#membersTimeout = options.membersTimeout ?? 1000
    this.#transport = new ClientTransport(service, this.id, options.maxMessageSize ?? MAX_MESSAGE_SIZE, (error) => this.#errors.emit('error', error))
    this.#peer = new Peer<Api>(this.#transport, { timeout: options.timeout, hooks: options.hooks, concurrency: 1, maxQueue: 1 })
    this.remote = this.#peer.remote
    this.#routes = routes
    routes.set(this.id, (message) => this.#reply(message))
  }

  /** Calls `path` on whichever member takes it; a Call (a promise with `cancel()`), as `peer.call`. */
  call<T = any>(path: string, args: readonly unknown[] | ByName = [], options?: CallOptions<T>): Call<T> {
    return this.#peer.call<T>(path, args, options)
  }

  /** Sends `path` to one member, with no reply. */
  notify(path: string, ...args: unknown[]): void {
    this.#peer.notify(path, ...args)
  }

  /** Listens to events that members `emit`, and to `error` (what has no caller to tell). */
  on(name: string, listener: (...args: any[]) => void): () => void {
    if (name === 'error') this.#errors.on(name, listener)
    this.#peer.on(name, listener)
    return () => this.off(name, listener)
  }

  off(name: string, listener?: (...args: any[]) => void): void {
    if (name === 'error') this.#errors.off(name, listener)
    this.#peer.off(name, listener)
  }

  /** The members serving now, each as it reports itself; asks them all and waits for every answer (or `membersTimeout`). */
  async members(): Promise<MemberInfo[]> {
    this.#assertOpen()
    const link = this.#link ?? (await this.#linked(this.#membersTimeout))
    if (link === undefined) throw new ChannelClosedError(`Cannot list the members of "${this.service}"`, { reason: 'not connected to the broker' })
    const expected = await link.countMembers(this.service)
    if (expected === 0) return []
    const id = `members:${++this.#queryCount}`
    const found: MemberInfo[] = []
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.#membersTimeout)
      this.#queries.set(id, (message) => {
        if (isMemberInfo(message.result)) found.push(message.result)
        if (found.length >= expected) {
          clearTimeout(timer)
          resolve()
        }
      })
      link.sendControl(this.service, JSON.stringify({ jsonrpc: '2.0', id, method: MEMBERS }), { from: this.id, reply: true })
    })
    this.#queries.delete(id)
    return found
  }

  /** Pending calls reject with ChannelClosedError; nothing of this client is left in the broker. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.detach(undefined)
    this.#leave?.()
  }

  /** @internal */
  onLeave(leave: () => void): void {
    this.#leave = leave
  }

  /** @internal */
  async attach(link: BrokerLink): Promise<void> {
    if (this.#closed) return
    await link.declareFanouts(this.service)
    this.#events = await link.hearEvents(this.service, (message) => this.#event(message))
    this.#link = link
    this.#transport.attach(link)
    for (const waiter of this.#waiters.splice(0)) waiter(link)
  }

  /** The link once this client is set up on it (now, or after connecting), or undefined after `ms`. */
  #linked(ms: number): Promise<BrokerLink | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(done), 1)
        resolve(undefined)
      }, ms)
      const done = (link: BrokerLink | undefined): void => {
        clearTimeout(timer)
        resolve(link)
      }
      this.#waiters.push(done)
    })
  }

  /** @internal */
  detach(error: Error | undefined): void {
    this.#link = undefined
    void this.#events?.close()
    this.#events = undefined
    if (error !== undefined) return this.#transport.detach(error)
    this.#closed = true
    for (const waiter of this.#waiters.splice(0)) waiter(undefined)
    this.#routes.delete(this.id)
    void this.#peer.close()
  }

  #reply(received: Received): void {
    if (received.refused !== undefined) return this.#transport.refused(received)
    if (received.body.startsWith(MEMBERS_REPLY)) {
      try {
        const message = JSON.parse(received.body) as { id?: unknown; result?: unknown }
        const query = typeof message.id === 'string' ? this.#queries.get(message.id) : undefined
        if (query !== undefined) return query(message)
      } catch {
        // not a members() answer: a reply like any other
      }
    }
    this.#transport.reply(received)
  }

  #event(received: Received): void {
    if (received.refused !== undefined) {
      if (received.from === this.id) this.#transport.refused(received)
      return
    }
    let message: unknown
    try {
      message = JSON.parse(received.body)
    } catch {
      return
    }
    this.#transport.event(message)
  }

  #assertOpen(): void {
    if (this.#closed) throw new ChannelClosedError(`The client of "${this.service}" is closed`)
  }
}

/** A member's answer to `members()`, checked as any input from the other side. */
function isMemberInfo(value: unknown): value is MemberInfo {
  if (typeof value !== 'object' || value === null) return false
  const info = value as Record<string, unknown>
  return typeof info.id === 'string' && typeof info.host === 'string' && typeof info.pid === 'number' && typeof info.inFlight === 'number' && typeof info.since === 'number'
}
