import type { Transferable } from '../transport.js'
import { BaseTransport } from './base.js'

/**
 * What a 'message' listener is given: a `MessageEvent`, of which only `data` is read. Typed as an
 * event that may carry `data` because Node's port types its listeners as taking a plain `Event`.
 */
export interface MessageEventLike {
  readonly type: string
  readonly data?: unknown
}

/**
 * The standard (web) MessagePort interface: a DOM `MessagePort`, a `Worker`, a worker's `self`
 * (`DedicatedWorkerGlobalScope`), Node's global `MessageChannel` ports and an Electron renderer's
 * `event.ports[0]` all fit it as they are typed, with no cast (spec/types-web compiles such code
 * under `lib: ["dom"]`, `lib: ["webworker"]` and Electron's own types).
 *
 * Written with method syntax on purpose: method parameters compare bivariantly, which is what lets
 * each platform's own signatures fit. Transfer lists are `readonly unknown[]` because the DOM's
 * `Transferable`, Node's and treerpc's {@link Transferable} are three different unions (what treerpc
 * passes is always a list of its own).
 */
export interface StandardMessagePort {
  postMessage(message: unknown, transfer?: readonly unknown[]): void
  addEventListener(type: 'message', listener: (event: MessageEventLike) => void): void
  /** Fired by browsers that report a closed port (and Node); a no-op elsewhere. */
  addEventListener(type: 'close', listener: () => void): void
  removeEventListener(type: 'message', listener: (event: MessageEventLike) => void): void
  removeEventListener(type: 'close', listener: () => void): void
  start?(): void
  close?(): void
}

export interface MessagePortTransportOptions {
  /** Call the port's `close()` on `close()` (default true). False for a Worker or a global scope you do not own. */
  ownsPort?: boolean
}

/**
 * Any standard MessagePort-like endpoint: a `MessagePort`, a browser `Worker`, a worker's `self`, an
 * Electron renderer's port. Uses `addEventListener` (so it never clobbers `onmessage`) and calls
 * `start()` where the port has one.
 *
 * A standard MessagePort says nothing when the other side goes away (browsers that support it fire
 * `close`, which is used); otherwise the peer learns of the end from treerpc's own close notice, or,
 * for a side that vanished (a terminated worker, a removed iframe), from its heartbeat, which is on
 * by default over this transport (`capabilities.reportsClose` is false).
 */
export class MessagePortTransport extends BaseTransport {
  readonly capabilities = { structuredClone: true, transfer: true, reportsClose: false }
  readonly #port: StandardMessagePort
  readonly #ownsPort: boolean

  constructor(port: StandardMessagePort, options: MessagePortTransportOptions = {}) {
    super()
    this.#port = port
    this.#ownsPort = options.ownsPort ?? true
    port.addEventListener('message', this.#message)
    port.addEventListener('close', this.#portClosed)
    port.start?.()
  }

  send(message: unknown, transfer?: readonly Transferable[]): void {
    if (this.closed) return
    if (transfer !== undefined && transfer.length > 0) this.#port.postMessage(message, transfer)
    else this.#port.postMessage(message)
  }

  readonly #message = (event: MessageEventLike): void => {
    this.receive(event.data)
  }

  readonly #portClosed = (): void => {
    this.end({ reason: 'the message port closed' })
  }

  protected release(): void {
    this.#port.removeEventListener('message', this.#message)
    this.#port.removeEventListener('close', this.#portClosed)
    if (this.#ownsPort) this.#port.close?.()
  }
}
