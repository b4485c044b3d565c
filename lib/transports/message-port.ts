import type { Transferable } from '../transport.js'
import { BaseTransport } from './base.js'

/** The standard (web) MessagePort interface, as in browsers, Electron renderers and Node's EventTarget side. */
export interface StandardMessagePort {
  postMessage(message: unknown, transfer?: Transferable[]): void
  addEventListener(type: 'message' | 'messageerror' | 'close', listener: (event: { data?: unknown }) => void): void
  removeEventListener(type: 'message' | 'messageerror' | 'close', listener: (event: { data?: unknown }) => void): void
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
 * `close`, which is used); otherwise the peer learns of the end from treerpc's own close notice, and
 * calls to a vanished side end by their timeout.
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
    if (transfer !== undefined && transfer.length > 0) this.#port.postMessage(message, transfer as Transferable[])
    else this.#port.postMessage(message)
  }

  readonly #message = (event: { data?: unknown }): void => {
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
