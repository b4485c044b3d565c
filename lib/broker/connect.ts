import { EventEmitter } from 'eventemitter3'
import { checkOptions, checkPositiveInteger, invalidArgument } from '../check.js'
import { messageOf } from '../describe.js'
import { ChannelClosedError, ErrorCode, RpcError } from '../errors.js'
import type { PeerHooks } from '../hooks.js'
import type { BrokerAdapter, BrokerLink, Received } from './adapter.js'
import { type ClientOptions, ServiceClient } from './client.js'
import { Member, type ServeOptions } from './member.js'

export interface BrokerOptions {
  /**
   * After the connection is lost: wait `initialDelay` ms (default 100), then twice as long after each
   * failed attempt, up to `maxDelay` (default 5000), for as long as the broker is not closed.
   */
  reconnect?: { initialDelay?: number; maxDelay?: number }
}

/** Something that lives on the broker's connection and must be set up again on a new one. */
export interface Party {
  attach(link: BrokerLink): Promise<void>
  /** The connection is gone (`error`) or the broker is closing (undefined). */
  detach(error: Error | undefined): void
}

export interface BrokerEvents {
  /** The connection was lost; pending calls have been rejected, and reconnection has begun. */
  disconnect: [error: Error]
  /** Connected again; members have re-subscribed and waiting calls are being sent. */
  reconnect: []
  /** Something with no caller to tell: a member's notification handler threw, a reconnect failed... */
  error: [error: unknown]
}

/**
 * A connection to a broker, shared by every client and member made from it. Made by `connectBroker`
 * (`treerpc/amqp`). It reconnects by itself until `close()`.
 */
export class Broker {
  readonly #adapter: BrokerAdapter
  readonly #events = new EventEmitter()
  readonly #parties = new Set<Party>()
  /** Replies come to the connection; this sends each to its client. */
  readonly #clients = new Map<string, (message: Received) => void>()
  readonly #initialDelay: number
  readonly #maxDelay: number
  #link: BrokerLink | undefined
  #closed = false
  #retry: ReturnType<typeof setTimeout> | undefined
  /** Settles when the current connection (or the next one) has every party set up. */
  #up: Promise<void> = Promise.resolve()

  /** @internal use connectBroker */
  constructor(adapter: BrokerAdapter, options: BrokerOptions = {}) {
    const reconnect = checkOptions('options.reconnect', checkOptions('options', options).reconnect)
    this.#initialDelay = reconnect.initialDelay ?? 100
    this.#maxDelay = reconnect.maxDelay ?? 5000
    checkPositiveInteger('options.reconnect.initialDelay', this.#initialDelay)
    checkPositiveInteger('options.reconnect.maxDelay', this.#maxDelay)
    this.#adapter = adapter
  }

  /** @internal */
  async start(): Promise<void> {
    await this.#connect()
  }

  /** True while connected. */
  get connected(): boolean {
    return this.#link !== undefined
  }

  on<K extends keyof BrokerEvents>(name: K, listener: (...args: BrokerEvents[K]) => void): () => void {
    this.#events.on(name, listener as (...args: unknown[]) => void)
    return () => this.#events.off(name, listener as (...args: unknown[]) => void)
  }

  /**
   * Serves `api` (a nested object of functions, as `expose`) as service `name`: takes calls from its
   * queue, competing with every other member of the same name on any host.
   */
  async serve(name: string, api: object, options: ServeOptions = {}): Promise<Member> {
    this.#assertOpen()
    checkService(name)
    const member = new Member(name, api, options, this.#events)
    await this.#join(member)
    return member
  }

  /** A client of service `name`: `client.remote.a.b(...)` calls whichever member takes it. */
  client<Api extends object = any>(name: string, options: ClientOptions = {}): ServiceClient<Api> {
    this.#assertOpen()
    checkService(name)
    const client = new ServiceClient<Api>(name, options, this.#clients)
    void this.#join(client).catch((error) => this.#events.emit('error', error))
    return client
  }

  /** Closes every client and member made from it (members without draining), then the connection. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearTimeout(this.#retry)
    for (const party of this.#parties) party.detach(undefined)
    this.#parties.clear()
    const link = this.#link
    this.#link = undefined
    await link?.close()
  }

  async #join(party: Party & { onLeave?: (leave: () => void) => void }): Promise<void> {
    this.#parties.add(party)
    party.onLeave?.(() => this.#parties.delete(party))
    await this.#up
    if (this.#link !== undefined && this.#parties.has(party)) {
      try {
        await party.attach(this.#link)
      } catch (error) {
        this.#parties.delete(party)
        party.detach(undefined)
        throw error
      }
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new RpcError('The broker connection is closed', ErrorCode.InvalidState)
  }

  async #connect(): Promise<void> {
    const link = await this.#adapter.connect()
    if (this.#closed) return void (await link.close())
    link.onClose((error) => this.#lost(link, error))
    try {
      await link.hearReplies((message) => {
        if (message.from !== undefined) this.#clients.get(message.from)?.(message)
      })
    } catch (error) {
      await link.close()
      throw error
    }
    this.#link = link
    const parties = [...this.#parties]
    this.#up = Promise.allSettled(parties.map((party) => party.attach(link))).then((outcomes) => {
      for (const outcome of outcomes) if (outcome.status === 'rejected') this.#events.emit('error', outcome.reason)
    })
    await this.#up
  }

  #lost(link: BrokerLink, error: Error | undefined): void {
    if (this.#link !== link || error === undefined) return
    this.#link = undefined
    const lost = new ChannelClosedError('Lost the broker connection', { reason: messageOf(error), error })
    for (const party of this.#parties) party.detach(lost)
    this.#events.emit('disconnect', lost)
    this.#schedule(this.#initialDelay)
  }

  #schedule(delay: number): void {
    if (this.#closed) return
    this.#retry = setTimeout(() => {
      this.#connect().then(
        () => {
          if (this.#link !== undefined) this.#events.emit('reconnect')
        },
        () => this.#schedule(Math.min(delay * 2, this.#maxDelay)),
      )
    }, delay * (0.75 + Math.random() / 2))
  }
}

/** Connects to a broker through `adapter`; resolves once connected (rejects when it cannot be reached). */
export async function connectWith(adapter: BrokerAdapter, options?: BrokerOptions): Promise<Broker> {
  const broker = new Broker(adapter, options)
  await broker.start()
  return broker
}

function checkService(name: unknown): void {
  if (typeof name !== 'string' || !/^[\w.-]{1,200}$/.test(name)) throw invalidArgument('name', 'a service name of letters, digits, ".", "-" and "_"', name)
}

export type { PeerHooks }
