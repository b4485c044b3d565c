import type { EventEmitter } from 'eventemitter3'
import { nanoid } from 'nanoid'
import os from 'node:os'
import { checkBoolean, checkOptions, checkPositiveInteger, invalidArgument, optional } from '../check.js'
import type { PeerHooks } from '../hooks.js'
import type { ExposeOptions, HandleOptions } from '../namespace.js'
import { Peer } from '../peer.js'
import type { BrokerLink, Subscription } from './adapter.js'
import type { Party } from './connect.js'
import { MemberTransport } from './member-transport.js'
import { MAX_MESSAGE_SIZE } from './size.js'

export interface ServeOptions {
  /** Most calls this member runs at once: also the broker's prefetch for it. Default 64. */
  concurrency?: number
  /**
   * Most calls waiting in the service's queue (for all its members); a call beyond it fails at once
   * with BusyError. Every member of a service must give the same value. Default: unbounded.
   */
  maxQueue?: number
  /**
   * Paths that may run again on another member when the member running them is lost (`true`: all).
   * Any other call lost with its member fails at its caller with ChannelClosedError, never runs twice.
   */
  idempotent?: readonly string[] | boolean
  /** Params schemas by path, as `peer.expose(api, { params })`. */
  params?: ExposeOptions['params']
  /** Hooks of the member's handlers: `beforeHandle`, `beforeSendError`, `trace`, `meta` for its events. */
  hooks?: PeerHooks
  /** `'minimal'` sends only name, message and code of handler errors. Default `'full'`. */
  errorDetail?: 'full' | 'minimal'
  /** Largest reply or event, in bytes (UTF-8 JSON); a larger reply fails its call with RPC_UNSENDABLE. Default 64 MiB. */
  maxMessageSize?: number
}

/** What `client.members()` reports of each live member. */
export interface MemberInfo {
  id: string
  host: string
  pid: number
  /** Calls it is running now. */
  inFlight: number
  /** When it started serving, in ms since the epoch. */
  since: number
}

/**
 * One member of a service: takes calls from the service's queue (competing with the other members),
 * runs them through an ordinary Peer's dispatcher, and sends events to every client. Made by
 * `broker.serve()`. Its namespace is live: `handle`, `expose`, `unhandle`, `fallback`.
 */
export class Member implements Party {
  /** Random id of this member, as `members()` reports it. */
  readonly id = nanoid(10)
  readonly service: string
  readonly #peer: Peer
  readonly #transport: MemberTransport
  readonly #concurrency: number
  readonly #maxQueue: number | undefined
  readonly #since = Date.now()
  #calls: Subscription | undefined
  #control: Subscription | undefined
  #leave: (() => void) | undefined
  #closing: Promise<void> | undefined

  /** @internal use broker.serve() */
  constructor(service: string, api: object, options: ServeOptions, brokerEvents: EventEmitter) {
    checkOptions('options', options)
    if (typeof api !== 'object' || api === null) throw invalidArgument('api', 'an object of functions', api)
    const concurrency = options.concurrency ?? 64
    checkPositiveInteger('options.concurrency', concurrency)
    optional(checkPositiveInteger, 'options.maxQueue', options.maxQueue)
    optional(checkPositiveInteger, 'options.maxMessageSize', options.maxMessageSize)
    const idempotent = options.idempotent ?? false
    if (typeof idempotent !== 'boolean' && !(Array.isArray(idempotent) && idempotent.every((path) => typeof path === 'string'))) {
      throw invalidArgument('options.idempotent', 'an array of paths or a boolean', idempotent)
    }
    if (typeof idempotent === 'boolean') checkBoolean('options.idempotent', idempotent)
    const paths = new Set(typeof idempotent === 'boolean' ? [] : idempotent)
    this.service = service
    this.#concurrency = concurrency
    this.#maxQueue = options.maxQueue
    this.#transport = new MemberTransport(service, idempotent === true ? () => true : (path) => paths.has(path), options.maxMessageSize ?? MAX_MESSAGE_SIZE, (error) => brokerEvents.emit('error', error))
    this.#peer = new Peer(this.#transport, {
      concurrency,
      // Never used: the broker's prefetch keeps deliveries within `concurrency`.
      maxQueue: concurrency,
      hooks: options.hooks,
      errorDetail: options.errorDetail,
      timeout: 0,
    })
    this.#peer.expose(api, { params: options.params })
    this.#peer.on('error', (error) => brokerEvents.emit('error', error))
  }

  /** Calls this member is running now. */
  get inFlight(): number {
    return this.#transport.inFlight
  }

  /** Sends an event to every client of the service that listens (`client.on(name)`). */
  emit(name: string, ...args: unknown[]): void {
    this.#peer.emit(name, ...args)
  }

  expose(path: string, api: object, options?: ExposeOptions): void {
    this.#peer.expose(path, api, options)
  }

  handle(path: string, fn: (...args: any[]) => unknown, options?: HandleOptions): void {
    this.#peer.handle(path, fn, options as HandleOptions & { params?: undefined })
  }

  unhandle(path: string): number {
    return this.#peer.unhandle(path)
  }

  fallback(fn: ((path: string, args: unknown[]) => unknown) | undefined): void {
    this.#peer.fallback(fn)
  }

  /**
   * Stops taking calls (they stay in the queue for the other members), lets the running ones finish
   * for at most `drain` ms (default 0), then leaves. Calls still running then see their signal abort
   * and go back to the queue: another member runs them if their path is idempotent, else their
   * callers get ChannelClosedError.
   */
  close(options: { drain?: number } = {}): Promise<void> {
    if (this.#closing !== undefined) return this.#closing
    const drain = checkOptions('options', options).drain ?? 0
    if (typeof drain !== 'number' || !(drain >= 0)) return Promise.reject(invalidArgument('options.drain', 'a non-negative number of ms', drain))
    this.#closing = (async () => {
      await this.#calls?.cancel()
      await this.#transport.settled(drain)
      this.#transport.abortAll()
      await this.#calls?.close()
      await this.#control?.close()
      this.detach(undefined)
      this.#leave?.()
    })()
    return this.#closing
  }

  /** @internal */
  onLeave(leave: () => void): void {
    this.#leave = leave
  }

  /** @internal */
  async attach(link: BrokerLink): Promise<void> {
    if (this.#closing !== undefined) return
    await link.declareService(this.service, this.#maxQueue)
    this.#transport.attach(link)
    this.#control = await link.hearControl(this.service, (message) => this.#transport.control(message, () => this.#info()))
    this.#calls = await link.takeCalls(this.service, this.#concurrency, this.#transport.take)
  }

  /** @internal */
  detach(error: Error | undefined): void {
    this.#calls = undefined
    this.#control = undefined
    this.#transport.detach()
    if (error === undefined) {
      this.#transport.close()
      void this.#peer.close()
    }
  }

  #info(): MemberInfo {
    return { id: this.id, host: os.hostname(), pid: process.pid, inFlight: this.#transport.inFlight, since: this.#since }
  }
}
